// What end-to-end encryption asks of the store: how an outgoing message goes (sealed to a direct
// chat's other member or a group's members, or in clear), and opening what a key newly opens.
import { chats as chatsApi } from './api';
import * as db from './db';
import * as e2e from './e2e';
import * as peers from './peerKeys';
import { chatMessages, emit, keyOf, otherParticipant, state } from './state';
import type { Chat, OutboxItem } from './types';

/** Thrown for a message that would be sealed while this device does not hold the user's key. */
export class Locked extends Error {}

/**
 * Thrown for a message that waits for the user's say, as the chat's header explains:
 * - it would go in clear because the server no longer gives out the key of a member whose key
 *   was seen before (`peers.withdrawn`): until the key is back, or the user chooses clear;
 * - it would be sealed to a key that changed since the user verified the one before
 *   (`peers.unconfirmed`): until the user accepts the new key;
 * - it would be sealed, but the server no longer gives out the user's own key (state `withdrawn`):
 *   until it is published again.
 */
export class Withheld extends Error {}

/**
 * What a message goes as: sealed to the other member of a direct chat who published a key, or
 * to every member of a group of at most `e2e.MAX_SEALED_MEMBERS` when all of them did, once this
 * device holds our key. Otherwise in clear (the chat's header says why), as is everything when
 * the user never turned encryption on. Throws `Locked` for a message that would be sealed while
 * this device does not hold the key published (it waits for the passphrase rather than go in
 * clear), when the keys or members cannot be fetched (it waits too), and `Withheld` for one
 * that would go in clear to a member whose key is withdrawn, or be sealed to one whose verified
 * key changed.
 */
export async function outgoing(item: OutboxItem): Promise<{ content: string; iv?: string; encrypted: boolean }> {
  const clear = { content: item.content, encrypted: false };
  const chat = state.chats.get(item.chatId);
  const locked = e2e.state() === 'locked';
  const withdrawn = e2e.state() === 'withdrawn';
  if (!chat || !(e2e.canSeal() || locked || withdrawn)) return clear;
  if (chat.type === 'group') {
    const how = await groupSealing(chat);
    if ('withdrawn' in how && how.withdrawn.length) throw new Withheld();
    if (!('keys' in how)) return clear;
    if (how.unconfirmed.length || withdrawn) throw new Withheld();
    if (locked) throw new Locked();
    return { ...(await e2e.sealForGroup(item.chatId, item.clientMsgId, item.content, how.keys)), encrypted: true };
  }
  const other = otherParticipant(chat);
  if (!other) return clear;
  const key = await peers.peerKey(other);
  if (!key && (await peers.withdrawn([other])).length) throw new Withheld();
  if (!key) return clear;
  if (withdrawn || (await peers.unconfirmed([other])).length) throw new Withheld();
  if (locked) throw new Locked();
  return { ...(await e2e.seal(item.chatId, item.clientMsgId, item.content, key)), encrypted: true };
}

/** A group's members as of a revision, for sealing (a group is listed without them). */
const sealingMembers = new Map<string, { revision: number; members: string[] }>();

/** Forgets the groups' members held for sealing (logged out: the next user has other groups). */
export function forgetSealing(): void {
  sealingMembers.clear();
}

/** How a group's messages go: sealed for its members' keys, or in clear, and why. */
/**
 * `withdrawn`: those of `missing` whose key was seen before; `unconfirmed`: the members whose
 * verified key changed (see `Withheld`).
 */
export type GroupSealing = { keys: Uint8Array<ArrayBuffer>[]; members: string[]; unconfirmed: string[] } | { clear: 'too-big' } | { clear: 'no-keys'; missing: string[]; withdrawn: string[] };

/** `fresh`: the members' keys are fetched now (the group is being opened), not from the cache. */
export async function groupSealing(chat: Chat, fresh = false): Promise<GroupSealing> {
  const count = chat.membersOmitted ? chat.memberCount : chat.participants.length;
  if (count > e2e.MAX_SEALED_MEMBERS) return { clear: 'too-big' };
  let members = chat.membersOmitted ? undefined : chat.participants;
  if (!members) {
    const held = sealingMembers.get(chat.id);
    if (held?.revision === chat.revision) members = held.members;
    else {
      const page = await chatsApi.members(chat.id, null, e2e.MAX_SEALED_MEMBERS);
      if (page.nextCursor) return { clear: 'too-big' };
      sealingMembers.set(chat.id, { revision: page.revision, members: page.members });
      members = page.members;
    }
  }
  const others = members.filter((m) => m !== state.me?.id);
  const keys = await peers.peerKeys(others, fresh);
  const missing = [...keys].filter(([, k]) => !k).map(([id]) => id);
  if (missing.length) return { clear: 'no-keys', missing, withdrawn: await peers.withdrawn(missing) };
  return { keys: [...keys.values()].filter((k) => k !== null), members: others, unconfirmed: await peers.unconfirmed(others) };
}

/**
 * Opens what became readable: the chats' last messages (cached as the server sent them), and
 * with `all`, as this device now holds a key it did not (set up or restored), the messages held
 * sealed.
 */
async function openHeld(all: boolean): Promise<void> {
  const lasts = [...state.chats.values()].flatMap((c) => (c.lastMessage ? [c.lastMessage] : []));
  await e2e.openAll(lasts);
  emit('chats');
  if (!all) return;
  for (const chatId of state.chats.keys()) {
    const opened = (await db.messagesOf(chatId)).filter(e2e.sealed);
    await e2e.openAll(opened);
    const now = opened.filter((m) => m.plain !== undefined);
    if (!now.length) continue;
    await db.putMessages(now);
    const map = chatMessages(chatId);
    for (const m of now) {
      const vm = map.get(keyOf(m.senderId, m.clientMsgId));
      if (vm) vm.content = m.plain!;
    }
    emit(`messages:${chatId}`);
  }
}
e2e.onChange((e) => {
  if (e2e.state() === 'ready' && e !== 'changed') void openHeld(e === 'opened');
});
