// Contacts' end-to-end keys: fetched from auth-api's directory (cached for a while), remembered
// on first use by this user's devices (IndexedDB `peerKeys`, trust on first use), and what the
// user decided about them: a change seen, a key verified, writing in clear to a contact whose key
// the server withholds. e2e.ts seals with what this module hands out.
import { keys as keysApi } from './api';
import * as db from './db';
import { b64, rawOf } from './keyBytes';

/** Most ids one `GET /api/users/keys` names (the server's limit). */
const KEYS_PER_REQUEST = 100;

const listeners = new Set<() => void>();

/**
 * Called when what was decided about a contact's key may let waiting messages go: a key that was
 * missing is published again, a changed verified key accepted, writing in clear chosen, or a
 * contact published a new key (`forget`); and when the user's other tab decided anything.
 */
export function onChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed(): void {
  for (const l of [...listeners]) l();
}

// The user's tabs share what was decided (IndexedDB) and re-read it when another tab decides.
const tabs = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('batiyoun-peer-keys');
if (tabs) tabs.onmessage = () => changed();

/** A decision about a contact's key was stored: the user's other tabs (and, `here`, this one) act on it. */
function decided(here: boolean): void {
  tabs?.postMessage('decided');
  if (here) changed();
}

/** Peers' published keys as last fetched: raw bytes, or null for none published. */
const peers = new Map<string, { raw: Uint8Array<ArrayBuffer> | null; at: number }>();
/**
 * How long a peer's key is used before it is fetched again. A peer who starts over with a new key
 * cannot open what was sealed to the old one meanwhile; the server pushes key changes
 * (`key_changed`, `peerChanged`), and this bounds what one missed costs: at most one request per
 * peer per 15 s of sending.
 */
const PEER_KEY_TTL_MS = 15_000;

/**
 * The key to seal a message to `userId` under, fetched at most once per `PEER_KEY_TTL_MS` (or
 * now, `fresh`: a chat being opened); null when they published none. Throws when it cannot be fetched (the
 * message waits rather than go in clear). A key unlike the one seen before is recorded as
 * changed (trust on first use, as Signal's "safety number changed"): the chat says so.
 */
export async function peerKey(userId: string, fresh = false): Promise<Uint8Array<ArrayBuffer> | null> {
  return (await peerKeys([userId], fresh)).get(userId) ?? null;
}

/** `userId` published a new key: it is fetched before anything more is sealed to them. */
export function forget(userId: string): void {
  peers.delete(userId);
  changed();
}

/** Forgets every contact's key fetched (a logout). */
export function clear(): void {
  peers.clear();
}

async function remember(userId: string, key: string): Promise<void> {
  const seen = await db.peerKey(userId).catch(() => undefined);
  if (seen?.key === key && !seen.clearAccepted) return;
  let next: db.PeerKey;
  if (!seen) next = { userId, key };
  // Back, after the user chose to write in clear without it: its absence warns again.
  else if (seen.key === key) next = { ...seen, clearAccepted: undefined };
  // Changed: flagged until dismissed, and held back until accepted if the user verified the old one.
  else next = { userId, key, changedAt: new Date().toISOString(), verifiedChanged: seen.verified !== undefined || seen.verifiedChanged };
  await db.putPeerKey(next).catch(() => {});
}

/**
 * Of `userIds`, who published no key now (as last fetched), the key remembered for them
 * notwithstanding: no route takes a key out of the directory (a reset replaces it), so the
 * server, or someone in between, withholds it, and what is written to them would go in clear.
 * Left out once the user chose to write to them in clear anyway (`acceptClear`), until a key of
 * theirs is seen again.
 */
export async function withdrawn(userIds: string[]): Promise<string[]> {
  const seen = await rememberedOf(userIds.filter((id) => !peers.get(id)?.raw));
  return seen.filter((k) => !k.clearAccepted).map((k) => k.userId);
}

/** The user chose to write to `userIds`, whose keys are withdrawn, in clear. */
export async function acceptClear(userIds: string[]): Promise<void> {
  const at = new Date().toISOString();
  for (const id of userIds) {
    const seen = await db.peerKey(id);
    if (seen) await db.putPeerKey({ ...seen, clearAccepted: at });
  }
  decided(true);
}

/** What this user's devices remember of `userId`'s key (first seen, changed, verified). */
export async function remembered(userId: string): Promise<db.PeerKey | undefined> {
  return db.peerKey(userId).catch(() => undefined);
}

/** `remembered` of several users at once (one IndexedDB transaction); those with nothing are left out. */
export async function rememberedOf(userIds: string[]): Promise<db.PeerKey[]> {
  return [...(await db.peerKeysOf(userIds).catch(() => new Map<string, db.PeerKey>())).values()];
}

/**
 * The user saw that `userId`'s key changed; if they had verified the old one, they accept the
 * new one, and what waited for that goes.
 */
export async function acceptKeyChange(userId: string): Promise<void> {
  const seen = await db.peerKey(userId);
  if (!seen) return;
  await db.putPeerKey({ ...seen, changedAt: undefined, verifiedChanged: undefined });
  decided(seen.verifiedChanged === true);
}

/**
 * Marks `userId`'s key `raw` verified (the user compared safety numbers), or clears the mark. A
 * verified key that changes holds back what is written to them until the user accepts the new one.
 */
export async function setVerified(userId: string, raw: Uint8Array<ArrayBuffer>, verified: boolean): Promise<void> {
  const seen = await db.peerKey(userId);
  if (seen?.key !== b64(raw)) return;
  await db.putPeerKey({ ...seen, verified: verified ? new Date().toISOString() : undefined });
  decided(false);
}

/** Whether the user verified `userId`'s key `raw`. */
export async function isVerified(userId: string, raw: Uint8Array<ArrayBuffer>): Promise<boolean> {
  const seen = await remembered(userId);
  return seen?.key === b64(raw) && seen.verified !== undefined;
}

/** Of `userIds`, those whose key changed since the user verified it, not accepted yet. */
export async function unconfirmed(userIds: string[]): Promise<string[]> {
  return (await rememberedOf(userIds)).filter((k) => k.verifiedChanged).map((k) => k.userId);
}

/**
 * A key's safety number, for users to compare over another channel: the first 20 bytes of the
 * SHA-256 of the raw key, as 8 groups of 5 hex digits.
 */
export async function safetyNumber(raw: Uint8Array<ArrayBuffer>): Promise<string> {
  const hex = [...new Uint8Array(await crypto.subtle.digest('SHA-256', raw))].map((b) => b.toString(16).padStart(2, '0')).join('');
  return (hex.slice(0, 40).match(/.{5}/g) ?? []).join(' ');
}

/**
 * Several users' keys, each fetched at most once per `PEER_KEY_TTL_MS`, or now (`fresh`), 100
 * per request: raw, or null for none published. Throws when they cannot be fetched.
 */
export async function peerKeys(userIds: string[], fresh = false): Promise<Map<string, Uint8Array<ArrayBuffer> | null>> {
  const now = Date.now();
  const stale = fresh ? userIds : userIds.filter((id) => !(peers.get(id) && now - peers.get(id)!.at < PEER_KEY_TTL_MS));
  for (let i = 0; i < stale.length; i += KEYS_PER_REQUEST) {
    const ask = stale.slice(i, i + KEYS_PER_REQUEST);
    const got = new Map((await keysApi.many(ask)).map((k) => [k.userId, rawOf(k.publicKey)]));
    let back = false;
    for (const id of ask) {
      const raw = got.get(id) ?? null;
      back ||= raw !== null && peers.get(id)?.raw === null;
      peers.set(id, { raw, at: now });
      if (raw) await remember(id, b64(raw));
    }
    // A key that was missing is published again: what waited for it may go (`withdrawn`).
    if (back) changed();
  }
  return new Map(userIds.map((id) => [id, peers.get(id)?.raw ?? null]));
}
