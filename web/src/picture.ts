// The profile picture, on the Account page (account.ts): shown (or the initial), chosen from a
// file, and removed, with the controls and the picture made in the browser that a group's
// picture shares (pictureKit.ts). What is uploaded (`PUT /api/users/me/avatar`) is a 256×256
// WebP of a type auth-api takes. Contacts and the user's other devices hear of it through
// `profile_changed`; this page through `userChanged`.
import { users } from './api';
import { pictureControls } from './pictureKit';
import * as store from './store';
import { card, type AppActions } from './viewKit';

export function pictureSection(app: AppActions): { el: HTMLElement; cleanup: () => void } {
  const picture = pictureControls({
    prefix: 'picture',
    current: () => {
      const me = store.state.me;
      return me && { name: me.displayName || me.username, picture: me.avatar };
    },
    set: async (image) => app.userChanged(await users.setPicture(image)),
    remove: async () => app.userChanged(await users.removePicture()),
    says: { saving: 'Saving your picture…', saved: 'Picture saved.', removing: 'Removing your picture…', removed: 'Picture removed.' },
  });
  // Changed on another device (`profile_changed`), or here.
  const off = store.subscribe((t) => t === 'me' && picture.render());
  return { el: card('picture-title', 'Profile picture', picture.el, picture.status), cleanup: off };
}
