// Bytes as end-to-end encryption handles them: base64 (standard and URL-safe), concatenation,
// randomness, and a P-256 public key's raw and JWK forms.
import type { PublicKeyJwk } from './types';

export function b64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function unb64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function b64urlOf(bytes: Uint8Array): string {
  return b64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function b64url(text: string): Uint8Array<ArrayBuffer> {
  return unb64(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
}

export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function random(n: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** The JWK of a P-256 public key given raw (`rawOf`'s inverse). */
export function jwkOf(raw: Uint8Array): PublicKeyJwk {
  return { kty: 'EC', crv: 'P-256', x: b64urlOf(raw.slice(1, 33)), y: b64urlOf(raw.slice(33, 65)) };
}

/** The raw (uncompressed point) form of a P-256 public key given as a JWK. */
export function rawOf(jwk: PublicKeyJwk): Uint8Array<ArrayBuffer> {
  return concat(new Uint8Array([4]), b64url(jwk.x), b64url(jwk.y));
}
