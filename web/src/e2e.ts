// End-to-end encryption of direct and group messages: ECDH P-256 and AES-256-GCM, in WebCrypto.
//
// Each user has one key pair. Its public key is in auth-api's directory (`/api/users/{id}/keys`);
// its private key stays in this browser (IndexedDB "batiyoun-keys", imported non-extractable)
// and, sealed under a recovery passphrase the server never sees, in the user's key backup
// (`/api/users/me/key-backup`), from which another device or a later login restores it.
//
// A direct message's `content` is base64 of
//   1 (version) | the sender's public key (65 bytes, raw) | the recipient's (65) | ciphertext+tag
// and `iv` the 12-byte nonce. The AES key is HKDF-SHA-256 of the ECDH secret of the two keys,
// bound to both (in that order); the associated data is the chat, the sender and the message's
// clientMsgId, so the server can neither move a message to another chat or sender nor replay it
// as another. Either party opens it with their own private key and the other key it names, so a
// message stays readable on the devices that hold the key it was sent under, whichever side
// changes keys later.
//
// A group message (up to MAX_SEALED_MEMBERS members, every one with a key) is sealed under a
// fresh AES-256-GCM key, wrapped (AES-KW) for each member's key, the sender's own included:
//   2 (version) | the sender's public key (65) | count (2 bytes, big-endian) |
//   count × [key id (the first 8 bytes of SHA-256 of the member's raw key) | wrapped key (40)] |
//   ciphertext+tag
// Each wrapping key is HKDF-SHA-256 of the ECDH secret of the sender's key and the member's,
// bound to both. Whoever joins later cannot open what came before, as in Matrix.
//
// Contacts' keys, and what the user decided about them, are peerKeys.ts's; encodings keyBytes.ts's.
import { ApiError, keys as keysApi } from './api';
import * as db from './db';
import { b64, concat, jwkOf, random, rawOf, unb64 } from './keyBytes';
import * as peers from './peerKeys';
import type { Message, PublicKeyJwk, WrappedKey } from './types';

const VERSION = 1;
const GROUP_VERSION = 2;
const RAW_KEY_BYTES = 65;
const KEY_ID_BYTES = 8;
const WRAPPED_BYTES = 40;
/** Most members a group message is sealed to (`MAX_SEALED_MEMBERS` in common's contracts). */
export const MAX_SEALED_MEMBERS = 100;
const NONCE_BYTES = 12;
const ITERATIONS = 600_000; // OWASP's 2023 figure for PBKDF2-HMAC-SHA256
const ECDH: EcKeyImportParams = { name: 'ECDH', namedCurve: 'P-256' };
const encoder = new TextEncoder();

/** What an encrypted message shows when this device cannot open it. */
export const LOCKED_TEXT = '🔒 Encrypted message (this device has no key for it)';

/**
 * - `none`: the user has published no key (encryption not set up);
 * - `locked`: a key is published but this device does not hold it (restore it from the backup);
 * - `ready`: this device holds the published key;
 * - `unknown`: not checked yet (offline since start);
 * - `withdrawn`: this device holds the user's key, but the directory gives out none. No route
 *   takes a key out (a reset replaces it), so the server lost it, or withholds it to have what
 *   the user writes go in clear: what would be sealed waits (sealing.ts, `Withheld`) until the
 *   key is published again (`republish`).
 */
export type KeyState = 'none' | 'locked' | 'ready' | 'unknown' | 'withdrawn';

interface StoredKeys {
  userId: string;
  /** Base64 raw public key → its private key; every key this device held for the user. */
  keys: { publicKey: string; privateKey: CryptoKey }[];
  /** The key this device sends under: the one published when last checked. */
  current: string | null;
}

let me: string | null = null;
let keyring = new Map<string, CryptoKey>();
let current: { publicKey: string; raw: Uint8Array<ArrayBuffer> } | null = null;
let keyState: KeyState = 'unknown';
/**
 * Why listeners are called: `loaded` this device's keys (at start; what is cached was opened with
 * them already), `opened` a key newly usable here (set up, restored, or found published), so
 * what was held sealed may open now; `changed` any other change of state; `peer` what was
 * decided about a contact's key changed (peerKeys.ts, `onChange`): messages waiting for it may go.
 */
export type KeyEvent = 'loaded' | 'opened' | 'changed' | 'peer';
const listeners = new Set<(e: KeyEvent) => void>();
peers.onChange(() => {
  for (const l of [...listeners]) l('peer');
});

export function state(): KeyState {
  return keyState;
}

/** Called when the key state changes (and after messages may have become readable). */
export function onChange(fn: (e: KeyEvent) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Sets the state; listeners hear of a change, and of every load or key opened. */
function setState(s: KeyState, event: KeyEvent = 'changed'): void {
  if (keyState === s && event === 'changed') return;
  if (s === 'ready' && keyState !== 'ready' && event === 'changed') event = 'opened';
  keyState = s;
  for (const l of [...listeners]) l(event);
}

// --- the keyring in IndexedDB -----------------------------------------------------------------

function keysDb(): Promise<IDBDatabase> {
  const open = indexedDB.open('batiyoun-keys', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('keys', { keyPath: 'userId' });
  return db.req(open);
}

async function withStore<T>(mode: IDBTransactionMode, work: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const d = await keysDb();
  try {
    const tx = d.transaction('keys', mode);
    const r = work(tx.objectStore('keys'));
    await db.done(tx);
    return r.result;
  } finally {
    d.close();
  }
}

async function saveKeyring(): Promise<void> {
  if (!me) return;
  const record: StoredKeys = {
    userId: me,
    keys: [...keyring].map(([publicKey, privateKey]) => ({ publicKey, privateKey })),
    current: current?.publicKey ?? null,
  };
  await withStore('readwrite', (s) => s.put(record));
}

// --- set-up, restore, check ---------------------------------------------------------------------

/**
 * Loads this device's keys of `userId` (works offline), then checks them against the directory
 * in the background.
 */
export async function load(userId: string): Promise<void> {
  me = userId;
  const record = (await withStore('readonly', (s) => s.get(userId)).catch(() => undefined)) as StoredKeys | undefined;
  if (me !== userId) return;
  keyring = new Map((record?.keys ?? []).map((k) => [k.publicKey, k.privateKey]));
  current = record?.current && keyring.has(record.current) ? { publicKey: record.current, raw: unb64(record.current) } : null;
  // Until the directory says otherwise, a key held is the one to seal with (this works offline).
  // Read again after another tab set up or restored the key: what this tab held sealed may open.
  const event = current && keyState !== 'ready' && keyState !== 'unknown' ? 'opened' : 'loaded';
  keyState = 'unknown';
  setState(current ? 'ready' : 'unknown', event);
  void check();
}

/** Compares this device's key with the published one (after start, and on every reconnect). */
export async function check(): Promise<void> {
  const userId = me;
  if (!userId) return;
  let published: PublicKeyJwk | null;
  try {
    published = await keysApi.get(userId);
  } catch {
    return; // offline or the server is unreachable: keep what we knew
  }
  if (me !== userId) return;
  const held = current?.publicKey ?? null;
  const publicKey = published ? b64(rawOf(published)) : null;
  if (!publicKey && current) {
    // Held here, given out no more: kept, to publish again (`republish`); nothing sealed meanwhile.
    setState('withdrawn');
    return;
  }
  current = publicKey && keyring.has(publicKey) ? { publicKey, raw: unb64(publicKey) } : null;
  setState(!publicKey ? 'none' : current ? 'ready' : 'locked');
  // Written only when the key to seal with changed (this runs on every reconnect).
  if (current?.publicKey !== (held ?? undefined)) await saveKeyring().catch(() => {});
}

/**
 * Publishes this device's key again, the directory no longer giving it out (`withdrawn`): with
 * its backup when the server still holds that one, else alone (this device goes on; others
 * cannot restore it until the user starts over with a new passphrase).
 */
export async function republish(): Promise<void> {
  if (keyState !== 'withdrawn' || !current) return;
  const publicKey = jwkOf(current.raw);
  let backup: WrappedKey | null = null;
  try {
    const stored = await keysApi.getBackup();
    if (b64(rawOf(stored.publicKey)) === current.publicKey) backup = stored.backup;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  }
  if (backup) await keysApi.putBackup(publicKey, backup);
  else await keysApi.put(publicKey);
  await check();
}

async function passphraseKey(passphrase: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', encoder.encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', salt, iterations, hash: 'SHA-256' }, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

async function adopt(pkcs8: Uint8Array<ArrayBuffer>, publicKey: string): Promise<void> {
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, ECDH, false, ['deriveBits']);
  keyring.set(publicKey, privateKey);
  current = { publicKey, raw: unb64(publicKey) };
  await saveKeyring();
  setState('ready', 'opened');
  tabs?.postMessage(me);
}

// The user's other tabs share the keyring (IndexedDB) but hold it in memory: a key set up or
// restored in one is read again by the others, which would otherwise offer to set one up anew.
const tabs = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('batiyoun-keys');
if (tabs) {
  tabs.onmessage = (e: MessageEvent<string | null>) => {
    if (me && e.data === me) void load(me);
  };
}

/**
 * Creates the user's key pair, publishes its public key and stores its private key sealed under
 * `passphrase` (PBKDF2-SHA-256, 600,000 iterations, AES-256-GCM). Replaces any key published
 * before: messages sent under that one stay readable only where it is held.
 */
export async function setUp(passphrase: string, replace = false): Promise<void> {
  if (!replace && me && (await keysApi.get(me))) {
    // Turned on meanwhile from another device: this one unlocks that key instead.
    await check();
    throw new Error('Encryption was turned on from another device: unlock it with that passphrase.');
  }
  const pair = (await crypto.subtle.generateKey(ECDH, true, ['deriveBits'])) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  const salt = random(16);
  const iv = random(NONCE_BYTES);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await passphraseKey(passphrase, salt, ITERATIONS), pkcs8));
  const publicKey: PublicKeyJwk = { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! };
  const backup: WrappedKey = { kdf: 'PBKDF2-SHA256', iterations: ITERATIONS, salt: b64(salt), iv: b64(iv), ciphertext: b64(sealed) };
  await keysApi.putBackup(publicKey, backup);
  await adopt(pkcs8, b64(rawOf(publicKey)));
}

/** Thrown by `restore` when the passphrase does not open the backup. */
export class WrongPassphrase extends Error {}

/** Restores the published key from the backup. */
export async function restore(passphrase: string): Promise<void> {
  const { publicKey, backup } = await keysApi.getBackup();
  let pkcs8: Uint8Array<ArrayBuffer>;
  try {
    const key = await passphraseKey(passphrase, unb64(backup.salt), backup.iterations);
    pkcs8 = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: unb64(backup.iv) }, key, unb64(backup.ciphertext)));
  } catch {
    throw new WrongPassphrase('That passphrase does not open your key backup.');
  }
  // The backup must hold the private half of the key the directory gives out.
  const opened = await crypto.subtle.exportKey('jwk', await crypto.subtle.importKey('pkcs8', pkcs8, ECDH, true, ['deriveBits']));
  if (opened.x !== publicKey.x || opened.y !== publicKey.y) throw new Error('The key backup does not match your published key.');
  await adopt(pkcs8, b64(rawOf(publicKey)));
}

/** Forgets this device's keys of the user (an explicit logout: the backup restores them). */
export async function forget(userId: string): Promise<void> {
  // Stopped first, so a check still on its way cannot write the keyring back.
  if (me === userId) stop();
  await withStore('readwrite', (s) => s.delete(userId)).catch(() => {});
}

export function stop(): void {
  me = null;
  keyring = new Map();
  current = null;
  keyState = 'unknown';
  peers.clear();
  derived.clear();
}

/**
 * `key_changed`: `userId` published a new key. A contact's is fetched before anything more is
 * sealed to them (and the chat shows the change); our own, from another device, is checked.
 */
export function peerChanged(userId: string): void {
  if (userId === me) {
    void check();
    return;
  }
  peers.forget(userId);
}

/** This device's key to seal with (raw), if it holds the published one. */
export function ownKey(): Uint8Array<ArrayBuffer> | null {
  return canSeal() && current ? current.raw : null;
}

// --- sealing and opening ----------------------------------------------------------------------

/**
 * The two uses of a key agreement: a direct message's AES-GCM key, and the AES-KW key that wraps
 * a group message's key for one member. Either is HKDF-SHA-256 of the ECDH secret, bound to both
 * public keys in the envelope's order (sender first).
 */
const KINDS = {
  direct: { info: 'batiyoun dm v1', algorithm: 'AES-GCM', usages: ['encrypt', 'decrypt'] },
  group: { info: 'batiyoun group v1', algorithm: 'AES-KW', usages: ['wrapKey', 'unwrapKey'] },
} as const satisfies Record<string, { info: string; algorithm: string; usages: readonly KeyUsage[] }>;

/** Derived keys by kind and the two public keys they join (ECDH and HKDF once per pair). */
const derived = new Map<string, Promise<CryptoKey>>();

/** The key of `kind` between our `privateKey` and `other`, which are `sender` and `receiver`. */
function agreedKey(kind: keyof typeof KINDS, privateKey: CryptoKey, other: Uint8Array<ArrayBuffer>, sender: Uint8Array, receiver: Uint8Array): Promise<CryptoKey> {
  const id = `${kind}|${b64(sender)}|${b64(receiver)}`;
  let key = derived.get(id);
  if (!key) {
    const { info, algorithm, usages } = KINDS[kind];
    key = (async () => {
      const otherKey = await crypto.subtle.importKey('raw', other, ECDH, false, []);
      const secret = await crypto.subtle.deriveBits({ name: 'ECDH', public: otherKey }, privateKey, 256);
      const hkdf = await crypto.subtle.importKey('raw', secret, 'HKDF', false, ['deriveKey']);
      const params = { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: concat(encoder.encode(info), sender, receiver) };
      return crypto.subtle.deriveKey(params, hkdf, { name: algorithm, length: 256 }, false, [...usages]);
    })();
    key.catch(() => derived.delete(id));
    derived.set(id, key);
  }
  return key;
}

function associatedData(chatId: string, senderId: string, clientMsgId: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${chatId}\n${senderId}\n${clientMsgId}`);
}

/** Whether this device can seal messages (it holds the published key). */
export function canSeal(): boolean {
  return keyState === 'ready' && current !== null;
}

/** Seals `text` from this user to the holder of `recipient` (a raw public key). */
export async function seal(chatId: string, clientMsgId: string, text: string, recipient: Uint8Array<ArrayBuffer>): Promise<{ content: string; iv: string }> {
  if (!me || !current) throw new Error('no key to seal with');
  const privateKey = keyring.get(current.publicKey)!;
  const key = await agreedKey('direct', privateKey, recipient, current.raw, recipient);
  const iv = random(NONCE_BYTES);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: associatedData(chatId, me, clientMsgId) }, key, encoder.encode(text)),
  );
  return { content: b64(concat(new Uint8Array([VERSION]), current.raw, recipient, ciphertext)), iv: b64(iv) };
}

/** The text of a sealed message, or null when this device holds no key it names. */
async function open(m: Message): Promise<string | null> {
  const bytes = unb64(m.content);
  if (bytes[0] === GROUP_VERSION) return openGroup(m, bytes);
  if (bytes[0] !== VERSION || bytes.length < 1 + 2 * RAW_KEY_BYTES + 16 || !m.iv) return null;
  const sender = bytes.slice(1, 1 + RAW_KEY_BYTES);
  const recipient = bytes.slice(1 + RAW_KEY_BYTES, 1 + 2 * RAW_KEY_BYTES);
  const mine = keyring.get(b64(sender)) ?? keyring.get(b64(recipient));
  if (!mine) return null;
  const other = keyring.has(b64(sender)) ? recipient : sender;
  const key = await agreedKey('direct', mine, other, sender, recipient);
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: unb64(m.iv), additionalData: associatedData(m.chatId, m.senderId, m.clientMsgId) },
    key,
    bytes.slice(1 + 2 * RAW_KEY_BYTES),
  );
  return new TextDecoder().decode(plain);
}

// --- groups -----------------------------------------------------------------------------------

const keyIds = new Map<string, Promise<string>>();
/** A key's id in a group envelope: the first 8 bytes of SHA-256 of the raw key, as base64. */
function keyIdOf(raw: Uint8Array<ArrayBuffer>): Promise<string> {
  const k = b64(raw);
  let id = keyIds.get(k);
  if (!id) {
    id = crypto.subtle.digest('SHA-256', raw).then((h) => b64(new Uint8Array(h, 0, KEY_ID_BYTES)));
    keyIds.set(k, id);
  }
  return id;
}

/** Seals `text` for every key of `members` (raw public keys; ours is added). */
export async function sealForGroup(chatId: string, clientMsgId: string, text: string, members: Uint8Array<ArrayBuffer>[]): Promise<{ content: string; iv: string }> {
  if (!me || !current) throw new Error('no key to seal with');
  const privateKey = keyring.get(current.publicKey)!;
  const mine = current.raw;
  const unique = new Map([mine, ...members].map((k) => [b64(k), k]));
  if (unique.size > MAX_SEALED_MEMBERS) throw new Error('too many members to seal for');
  const messageKey = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt']);
  const iv = random(NONCE_BYTES);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: associatedData(chatId, me, clientMsgId) }, messageKey, encoder.encode(text)),
  );
  const entries = await Promise.all(
    [...unique.values()].map(async (member) => {
      const wrapper = await agreedKey('group', privateKey, member, mine, member);
      const wrapped = new Uint8Array(await crypto.subtle.wrapKey('raw', messageKey, wrapper, 'AES-KW'));
      return concat(unb64(await keyIdOf(member)), wrapped);
    }),
  );
  const count = new Uint8Array([entries.length >> 8, entries.length & 0xff]);
  return { content: b64(concat(new Uint8Array([GROUP_VERSION]), mine, count, ...entries, ciphertext)), iv: b64(iv) };
}

async function openGroup(m: Message, bytes: Uint8Array<ArrayBuffer>): Promise<string | null> {
  const head = 1 + RAW_KEY_BYTES + 2;
  if (bytes.length < head || !m.iv) return null;
  const sender = bytes.slice(1, 1 + RAW_KEY_BYTES);
  const count = (bytes[1 + RAW_KEY_BYTES] << 8) | bytes[2 + RAW_KEY_BYTES];
  const entry = KEY_ID_BYTES + WRAPPED_BYTES;
  const body = head + count * entry;
  if (bytes.length < body + 16) return null;
  const mine = new Map<string, string>();
  for (const publicKey of keyring.keys()) mine.set(await keyIdOf(unb64(publicKey)), publicKey);
  for (let i = 0; i < count; i++) {
    const at = head + i * entry;
    const holder = mine.get(b64(bytes.slice(at, at + KEY_ID_BYTES)));
    if (!holder) continue;
    const member = unb64(holder);
    const wrapper = await agreedKey('group', keyring.get(holder)!, sender, sender, member);
    const messageKey = await crypto.subtle.unwrapKey('raw', bytes.slice(at + KEY_ID_BYTES, at + entry), wrapper, 'AES-KW', 'AES-GCM', false, ['decrypt']);
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: unb64(m.iv), additionalData: associatedData(m.chatId, m.senderId, m.clientMsgId) },
      messageKey,
      bytes.slice(body),
    );
    return new TextDecoder().decode(plain);
  }
  return null;
}

/** Whether `m` is sealed and not opened yet. */
export function sealed(m: Message): boolean {
  return m.encrypted && m.plain === undefined;
}

/**
 * Opens every sealed message of `ms` this device holds a key for, setting `plain`. One that fails
 * to open (no key here, tampered, malformed) is left sealed and shows `LOCKED_TEXT`.
 */
export async function openAll(ms: Message[]): Promise<void> {
  await Promise.all(
    ms.filter(sealed).map(async (m) => {
      try {
        const text = await open(m);
        if (text !== null) m.plain = text;
      } catch {
        /* left sealed */
      }
    }),
  );
}

/** What a message shows: its text, opened, or why it cannot be shown. */
export function textOf(m: Message): string {
  return m.plain ?? (m.encrypted ? LOCKED_TEXT : m.content);
}
