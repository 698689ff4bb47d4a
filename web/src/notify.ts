// Desktop and phone notifications of messages the user has not seen.
//
// Asked for, never assumed: the chat list offers "Turn on notifications" while the browser has
// not been asked yet (the permission prompt needs a click). Once granted, a message from someone
// else that arrives live for a chat that is open in no visible tab (this one, or another of this
// browser: `tabs.ts`) shows a notification through the service worker (`showNotification`, the
// only way on Android; a page's `new Notification` is the fallback without one). Each chat has one
// notification, its newest message (`tag`), so several open tabs replace rather than repeat it.
// Clicking it opens the chat (public/sw.js). Reading the chat, here or on another device or tab,
// closes it, and so does the message's deletion (as WhatsApp and Signal take a deleted message's
// notification away). Others' reactions to the user's own messages notify too, in the chat's
// notification, as WhatsApp and Signal do. A chat the user muted (on any device) notifies nothing,
// but a message mentioning the user (`@username`, mentions.ts) notifies all the same ("Mentioned
// you: …"), as Slack and WhatsApp let mentions through a mute.

import { h } from './dom';
import { summary } from './attachments';
import { textOf } from './e2e';
import { mentionableText, mentionsMe } from './mentions';
import { isMuted } from './muting';
import * as store from './store';
import type { NewReaction } from './edits';
import type { Chat, Message } from './types';
import { avatarSrc } from './viewKit';

/** Longest message text a notification shows. */
const BODY_CHARS = 200;
/** Longest quote of one's own message a reaction's notification shows. */
const QUOTE_CHARS = 80;

export const supported = (): boolean => 'Notification' in window;

/**
 * "Turn on notifications", while the browser has not been asked; hidden once it has (granted or
 * refused: a refusal is changed in the browser's site settings, not by asking again).
 */
export function offerButton(): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'button', 'data-testid': 'enable-notifications' }, 'Turn on notifications');
  const show = () => (button.hidden = !supported() || Notification.permission !== 'default');
  button.addEventListener('click', () => {
    void Notification.requestPermission().finally(show);
  });
  show();
  return button;
}

/**
 * Shows a notification of `m` (from someone else, not seen) if the user allowed them: one that
 * mentions the user says so, and comes even from a muted chat.
 */
export async function notifyMessage(m: Message, chat: Chat): Promise<void> {
  const text = summary(m.type, textOf(m));
  const mentioned = mentionsMe(mentionableText({ type: m.type, content: textOf(m) }));
  await show(chat, m.senderId, mentioned ? `Mentioned you: ${text}` : text, m.id, mentioned);
}

/**
 * Shows a notification of others' reactions to this user's message `m` (chat open in no visible
 * tab), as WhatsApp and Signal do: "Reacted 👍 to “Lunch?”", from the first who reacted.
 */
export async function notifyReaction(m: Message, chat: Chat, added: NewReaction[]): Promise<void> {
  const first = added[0];
  if (!first) return;
  // A group's members are paged, not held: the name of who reacted may not be here yet.
  await store.ensureProfiles([first.userId]).catch(() => {});
  const emoji = [...new Set(added.filter((r) => r.userId === first.userId).map((r) => r.emoji))].join(' ');
  const quoted = summary(m.type, textOf(m));
  const clipped = quoted.length > QUOTE_CHARS ? `${quoted.slice(0, QUOTE_CHARS - 1)}…` : quoted;
  await show(chat, first.userId, `Reacted ${emoji} to “${clipped}”`, m.id);
}

/**
 * Shows `text` from `from` in `chat`, about its message `messageId`, if the user allowed
 * notifications and has not muted the chat (or is `mentioned`): the chat's one notification
 * (`tag`), replaced.
 */
async function show(chat: Chat, from: string, text: string, messageId: string, mentioned = false): Promise<void> {
  if ((isMuted(chat) && !mentioned) || !supported() || Notification.permission !== 'granted') return;
  const sender = store.displayName(from);
  const title = chat.type === 'group' ? `${sender} in ${store.chatTitle(chat)}` : sender;
  const options: NotificationOptions = {
    body: text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS - 1)}…` : text,
    tag: chat.id,
    // The sender's picture, as Slack and WhatsApp show; the app's icon when they have none.
    icon: avatarSrc(store.pictureOf(from)) ?? '/icons/icon-192.png',
    data: { chatId: chat.id, messageId },
  };
  try {
    const registration = await navigator.serviceWorker?.getRegistration();
    if (registration?.active) {
      await registration.showNotification(title, options);
      return;
    }
    const n = new Notification(title, options);
    n.onclick = () => {
      window.focus();
      location.hash = `#/chat/${chat.id}`;
      n.close();
    };
  } catch (e) {
    console.warn('could not show a notification', e);
  }
}

/** Closes the notification of a chat the user has read (here, or on another device or tab). */
export async function closeNotifications(chatId: string): Promise<void> {
  if (!supported()) return;
  try {
    const registration = await navigator.serviceWorker?.getRegistration();
    for (const n of (await registration?.getNotifications({ tag: chatId })) ?? []) n.close();
  } catch (e) {
    console.warn('could not close notifications', e);
  }
}

/**
 * Closes the notification of the message `messageId` of `chatId`, deleted since it was shown (a
 * newer message of the chat has replaced it already otherwise). Only the service worker's can be
 * found again; a page's fallback notification stays.
 */
export async function closeNotificationOf(chatId: string, messageId: string): Promise<void> {
  if (!supported()) return;
  try {
    const registration = await navigator.serviceWorker?.getRegistration();
    for (const n of (await registration?.getNotifications({ tag: chatId })) ?? []) {
      if ((n.data as { messageId?: unknown } | null)?.messageId === messageId) n.close();
    }
  } catch (e) {
    console.warn('could not close a notification', e);
  }
}

/** Closes every notification shown (the account was deleted: none of its messages stay on screen). */
export async function closeAll(): Promise<void> {
  if (!supported()) return;
  try {
    const registration = await navigator.serviceWorker?.getRegistration();
    for (const n of (await registration?.getNotifications()) ?? []) n.close();
  } catch (e) {
    console.warn('could not close notifications', e);
  }
}

/** Opens the chat a clicked notification was about (the service worker tells a page it focused). */
export function listenForClicks(open: (chatId: string) => void): void {
  navigator.serviceWorker?.addEventListener('message', (e: MessageEvent) => {
    const data = e.data as { type?: string; chatId?: unknown } | null;
    if (data?.type === 'open-chat' && typeof data.chatId === 'string' && /^[0-9a-f]{24}$/.test(data.chatId)) open(data.chatId);
  });
}
