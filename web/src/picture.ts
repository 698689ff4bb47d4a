// The profile picture, on the Account page (account.ts): shown (or the initial), chosen from a
// file, and removed. The browser makes the picture: any image it can decode (a GIF, a 4000-pixel
// photo) is cropped to its centre square and drawn at 256×256, then encoded as WebP (PNG, or
// JPEG when that is too large, where the browser cannot encode WebP), so what is uploaded
// (`PUT /api/users/me/avatar`) is small and of a type auth-api takes. Contacts and the user's
// other devices hear of it through `profile_changed`; this page through `userChanged`.
import { MAX_PICTURE_BYTES, users } from './api';
import { errorBox, field, h } from './dom';
import * as store from './store';
import { avatar, busy, card, formError, type AppActions } from './viewKit';

/** The side of the square picture uploaded, in pixels: twice the largest circle drawn, for sharp screens. */
const SIDE = 256;

/** A file that is no picture this page can send, in words for the user. */
class PictureRefused extends Error {}

export function pictureSection(app: AppActions): { el: HTMLElement; cleanup: () => void } {
  const preview = h('div', { class: 'picture-preview', 'data-testid': 'picture-preview' });
  const file = field({
    id: 'picture-file',
    label: 'Choose a picture',
    type: 'file',
    required: false,
    hint: 'A PNG, JPEG, WebP or any other image your browser can open. Its centre square is used, resized to 256×256.',
    // Any image: it is decoded and encoded again here, so a GIF or a BMP will do.
    attrs: { accept: 'image/png,image/jpeg,image/webp,image/*', 'data-testid': 'picture-input' },
  });
  const err = errorBox();
  const status = h('p', { class: 'notice', role: 'status', 'data-testid': 'picture-status' });
  const remove = h('button', { type: 'button', class: 'ghost danger', 'data-testid': 'remove-picture' }, 'Remove picture');
  const render = () => {
    const me = store.state.me;
    if (!me) return;
    preview.replaceChildren(avatar(me.displayName || me.username, undefined, me.avatar));
    remove.hidden = !me.avatar;
  };
  render();

  /**
   * Runs one change of the picture, the file field and Remove busy meanwhile (`doing` said), and
   * `done` said on success.
   */
  const change = async (work: () => Promise<void>, doing: string, done: string) => {
    err.textContent = '';
    status.textContent = doing;
    file.input.disabled = true;
    busy(remove, true);
    try {
      await work();
      status.textContent = done;
    } catch (e) {
      status.textContent = '';
      if (e instanceof PictureRefused) err.textContent = e.message;
      else formError(err, e);
    } finally {
      file.input.disabled = false;
      busy(remove, false);
      file.input.value = '';
      render();
    }
  };
  file.input.addEventListener('change', () => {
    const chosen = file.input.files?.[0];
    if (!chosen) return;
    void change(async () => app.userChanged(await users.setPicture(await squarePicture(chosen))), 'Saving your picture…', 'Picture saved.');
  });
  remove.addEventListener('click', () => void change(async () => app.userChanged(await users.removePicture()), 'Removing your picture…', 'Picture removed.'));

  // Changed on another device (`profile_changed`), or here.
  const off = store.subscribe((t) => t === 'me' && render());
  const el = card(
    'picture-title',
    'Profile picture',
    h('div', { class: 'picture', 'data-testid': 'picture-form' }, preview, h('div', { class: 'picture-controls' }, file.wrap, err, h('div', { class: 'form-actions' }, remove))),
    status,
  );
  return { el, cleanup: off };
}

/**
 * `image` as the picture to upload: its centre square at SIDE×SIDE, as WebP at quality 0.9, else
 * PNG, else (too large as PNG) JPEG. Refused when the browser cannot decode it.
 */
async function squarePicture(image: Blob): Promise<Blob> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(image);
  } catch {
    throw new PictureRefused('This file is not an image this browser can read.');
  }
  const canvas = h('canvas', { width: SIDE, height: SIDE });
  const ctx = canvas.getContext('2d');
  try {
    if (!ctx) throw new PictureRefused('This browser cannot draw the picture.');
    const side = Math.min(bitmap.width, bitmap.height);
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, SIDE, SIDE);
  } finally {
    bitmap.close();
  }
  const encode = (type: string, quality?: number) => new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, type, quality));
  const fits = (b: Blob | null, ...types: string[]): b is Blob => b !== null && types.includes(b.type) && b.size > 0 && b.size <= MAX_PICTURE_BYTES;
  let blob = await encode('image/webp', 0.9);
  // A browser that cannot encode WebP answers PNG (Safari); another type is asked for as PNG.
  if (blob?.type !== 'image/webp' && blob?.type !== 'image/png') blob = await encode('image/png');
  if (fits(blob, 'image/webp', 'image/png')) return blob;
  // JPEG has no transparency: what was transparent is white, not black.
  ctx.globalCompositeOperation = 'destination-over';
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, SIDE, SIDE);
  const jpeg = await encode('image/jpeg', 0.85);
  if (fits(jpeg, 'image/jpeg')) return jpeg;
  throw new PictureRefused('This picture could not be made small enough to send. Try another one.');
}
