// IndexedDB, one database per signed-in user ("batiyoun:<userId>"):
//   messages  (keyPath id, index chatId)   — what we have of each chat's history
//   outbox    (keyPath clientMsgId)         — sent by the user, not yet acknowledged by the server
//   chats     (keyPath id)                  — the chat list, for offline start
//   profiles  (keyPath id)                  — other users' public profiles (a deleted account's: its mark, state.ts)
//   peerKeys  (keyPath userId)              — the end-to-end key seen for each contact (peerKeys.ts)
//   meta      (keyPath key)                 — small values kept with the cache (where `sync_changes` resumes)
//   changes   (keyPath seq, autoIncrement)  — edits, deletions, reactions and pins made offline, not yet sent (changesOutbox.ts)
import type { Chat, Message, OutboxItem, PublicProfile, QueuedChange } from './types';

const VERSION = 4;
let db: IDBDatabase | null = null;
let dbName = '';

/** An IndexedDB request's result (e2e.ts's keyring uses these too). */
export function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** A transaction's end. */
export function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export async function openDb(userId: string): Promise<void> {
  if (db && dbName === `batiyoun:${userId}`) return;
  db?.close();
  dbName = `batiyoun:${userId}`;
  const open = indexedDB.open(dbName, VERSION);
  open.onupgradeneeded = (e) => {
    const d = open.result;
    if (e.oldVersion < 1) {
      const m = d.createObjectStore('messages', { keyPath: 'id' });
      m.createIndex('chatId', 'chatId');
      d.createObjectStore('outbox', { keyPath: 'clientMsgId' });
      d.createObjectStore('chats', { keyPath: 'id' });
      d.createObjectStore('profiles', { keyPath: 'id' });
    }
    if (e.oldVersion < 2) d.createObjectStore('peerKeys', { keyPath: 'userId' });
    if (e.oldVersion < 3) d.createObjectStore('meta', { keyPath: 'key' });
    if (e.oldVersion < 4) d.createObjectStore('changes', { keyPath: 'seq', autoIncrement: true });
  };
  const opened = await req(open);
  // A newer build in another tab upgrading the database waits until every tab closes it: this
  // one steps aside (its writes are then skipped, as when signed out) rather than block it.
  opened.onversionchange = () => {
    opened.close();
    if (db === opened) db = null;
  };
  db = opened;
}

export async function deleteDb(): Promise<void> {
  if (!db) return;
  const name = dbName;
  db.close();
  db = null;
  dbName = '';
  await req(indexedDB.deleteDatabase(name)).catch(() => {});
}

function store(name: string, mode: IDBTransactionMode = 'readonly'): IDBObjectStore {
  if (!db) throw new Error('database not open');
  return db.transaction(name, mode).objectStore(name);
}

async function putAll<T>(name: string, items: T[]): Promise<void> {
  if (!db || items.length === 0) return;
  const tx = db.transaction(name, 'readwrite');
  const s = tx.objectStore(name);
  for (const it of items) s.put(it);
  await done(tx);
}

export const putMessages = (ms: Message[]) => putAll('messages', ms);

/**
 * Rewrites the stored messages `ids` as `change` makes each of the copy stored (`undefined` when
 * none; answering `undefined` leaves it as it is), read and written in one transaction: a copy
 * another part of the page wrote meanwhile is built on, never overwritten unseen.
 */
export async function changeMessages(ids: string[], change: (id: string, stored: Message | undefined) => Message | undefined): Promise<void> {
  if (!db || ids.length === 0) return;
  const tx = db.transaction('messages', 'readwrite');
  const finished = done(tx);
  const s = tx.objectStore('messages');
  // Every read is asked for before any answer comes, and each write follows its answer within
  // the transaction, which stays open while it has requests.
  ids.forEach((id) => {
    const read = s.get(id);
    read.onsuccess = () => {
      const next = change(id, read.result as Message | undefined);
      if (next) s.put(next);
    };
  });
  await finished;
}
export const putChats = (cs: Chat[]) => putAll('chats', cs);
export const putProfiles = (ps: PublicProfile[]) => putAll('profiles', ps);

export async function messagesOf(chatId: string): Promise<Message[]> {
  if (!db) return [];
  return req(store('messages').index('chatId').getAll(IDBKeyRange.only(chatId))) as Promise<Message[]>;
}

/**
 * The stored messages `matches` takes, newest first (ids are ObjectIds, in time order), at most
 * `limit`: a cursor over the store backwards, read in one transaction.
 */
export async function findMessages(matches: (m: Message) => boolean, limit: number): Promise<Message[]> {
  if (!db) return [];
  const found: Message[] = [];
  const cursor = store('messages').openCursor(null, 'prev');
  await new Promise<void>((resolve, reject) => {
    cursor.onerror = () => reject(cursor.error);
    cursor.onsuccess = () => {
      const at = cursor.result;
      if (!at) return resolve();
      const m = at.value as Message;
      if (matches(m)) found.push(m);
      if (found.length >= limit) return resolve();
      at.continue();
    };
  });
  return found;
}

export async function allChats(): Promise<Chat[]> {
  if (!db) return [];
  return req(store('chats').getAll()) as Promise<Chat[]>;
}

export async function deleteChat(chatId: string): Promise<void> {
  if (!db) return;
  const tx = db.transaction(['chats', 'messages'], 'readwrite');
  tx.objectStore('chats').delete(chatId);
  const idx = tx.objectStore('messages').index('chatId');
  const keys = await req(idx.getAllKeys(IDBKeyRange.only(chatId)));
  for (const k of keys) tx.objectStore('messages').delete(k);
  await done(tx);
}

export async function allProfiles(): Promise<PublicProfile[]> {
  if (!db) return [];
  return req(store('profiles').getAll()) as Promise<PublicProfile[]>;
}

export async function outbox(): Promise<OutboxItem[]> {
  if (!db) return [];
  const items = (await req(store('outbox').getAll())) as OutboxItem[];
  return items.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function addOutbox(item: OutboxItem): Promise<void> {
  await putAll('outbox', [item]);
}

/** Removes an outbox entry and stores the acknowledged message in one transaction. */
export async function settleOutbox(clientMsgId: string, message?: Message): Promise<void> {
  if (!db) return;
  const tx = db.transaction(['outbox', 'messages'], 'readwrite');
  tx.objectStore('outbox').delete(clientMsgId);
  if (message) tx.objectStore('messages').put(message);
  await done(tx);
}

/** The changes waiting to be sent, in the order they were made (their `seq`). */
export async function changes(): Promise<QueuedChange[]> {
  if (!db) return [];
  return req(store('changes').getAll()) as Promise<QueuedChange[]>;
}

/** Stores a change to send (durable, its transaction done, before it is shown), answering it with its `seq`. */
export async function addChange(change: Omit<QueuedChange, 'seq'>): Promise<QueuedChange> {
  if (!db) throw new Error('database not open');
  const tx = db.transaction('changes', 'readwrite');
  const added = req(tx.objectStore('changes').add(change));
  await done(tx);
  return { ...change, seq: (await added) as number };
}

export async function removeChange(seq: number): Promise<void> {
  if (!db) return;
  const tx = db.transaction('changes', 'readwrite');
  tx.objectStore('changes').delete(seq);
  await done(tx);
}

/** A contact's end-to-end key as this user's devices first saw it, and when it last changed. */
export interface PeerKey {
  userId: string;
  /** Base64 of the raw public key. */
  key: string;
  /** Set when the key differs from the one seen before, until the user dismisses the warning. */
  changedAt?: string;
  /** When the user marked `key` verified (they compared safety numbers). */
  verified?: string;
  /**
   * Set when the key changed while the user had the one before verified, until they accept the
   * new one: what is written to them meanwhile waits (sealing.ts, `Withheld`).
   */
  verifiedChanged?: boolean;
  /**
   * Set when the user chose to write in clear to this contact, whose key the directory no longer
   * gives out (peerKeys.ts, `withdrawn`), until a key of theirs is seen again.
   */
  clearAccepted?: string;
}

export async function peerKey(userId: string): Promise<PeerKey | undefined> {
  if (!db) return undefined;
  return req(store('peerKeys').get(userId)) as Promise<PeerKey | undefined>;
}

/** What is remembered of each of `userIds` (those with nothing are left out), in one transaction. */
export async function peerKeysOf(userIds: string[]): Promise<Map<string, PeerKey>> {
  if (!db || !userIds.length) return new Map();
  const s = store('peerKeys');
  const found = (await Promise.all(userIds.map((id) => req(s.get(id)) as Promise<PeerKey | undefined>))).filter((k) => k !== undefined);
  return new Map(found.map((k) => [k.userId, k]));
}

export const putPeerKey = (k: PeerKey) => putAll('peerKeys', [k]);

/** A value kept in `meta` (undefined when none is). */
export async function meta<T>(key: string): Promise<T | undefined> {
  if (!db) return undefined;
  const row = (await req(store('meta').get(key))) as { key: string; value: T } | undefined;
  return row?.value;
}

export const putMeta = <T>(key: string, value: T) => putAll('meta', [{ key, value }]);
