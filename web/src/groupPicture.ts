// A group's picture, in its details (groupDetails.ts): shown to every member (or the group's
// initial), chosen from a file and removed by its admins, with the controls and the picture made
// in the browser that the profile picture shares (pictureKit.ts): a 256×256 WebP, sent as
// `PUT /api/chats/{id}/picture`. The other members hear of it through `chat_changed {picture}`.
import { chats as chatsApi } from './api';
import { h } from './dom';
import { pictureControls } from './pictureKit';
import * as store from './store';
import type { Chat } from './types';

export function groupPicture(chatId: string): { el: HTMLElement; render: (chat: Chat) => void } {
  const picture = pictureControls({
    prefix: 'group-picture',
    current: () => {
      const chat = store.state.chats.get(chatId);
      return chat ? { name: store.chatTitle(chat), picture: store.chatPicture(chat) } : null;
    },
    set: async (image) => store.upsertChat(await chatsApi.setPicture(chatId, image)),
    remove: async () => store.upsertChat(await chatsApi.removePicture(chatId)),
    says: { saving: 'Saving the group’s picture…', saved: 'Picture saved.', removing: 'Removing the group’s picture…', removed: 'Picture removed.' },
  });
  /** What was drawn last (its name, for the initial, and its picture): drawn again only when it changes. */
  let shown = '';
  return {
    el: h('div', { class: 'group-picture' }, h('h3', {}, 'Group picture'), picture.el, picture.status),
    /** Draws the picture again when it changed, and the controls for admins only. */
    render(chat: Chat) {
      const isAdmin = store.state.me ? chat.admins.includes(store.state.me.id) : false;
      picture.controls.hidden = !isAdmin;
      picture.status.hidden = !isAdmin;
      const now = `${store.chatTitle(chat)}|${chat.picture ?? ''}`;
      if (now === shown) return;
      shown = now;
      picture.render();
    },
  };
}
