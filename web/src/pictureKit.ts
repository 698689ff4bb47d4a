// What the user's profile picture (picture.ts) and a group's (groupPicture.ts) share: the picture
// made in the browser, and the controls that choose and remove it. Any image the browser can
// decode (a GIF, a 4000-pixel photo) is cropped to its centre square and drawn at 256×256, then
// encoded as WebP (PNG, or JPEG when that is too large, where the browser cannot encode WebP),
// so what is uploaded is small and of a type both services take (PNG, JPEG or WebP, at most
// MAX_PICTURE_BYTES).
import { MAX_PICTURE_BYTES } from './api';
import { errorBox, field, h } from './dom';
import { avatar, busy, formError } from './viewKit';

/** The side of the square picture uploaded, in pixels: twice the largest circle drawn, for sharp screens. */
const SIDE = 256;

/** A file that is no picture this page can send, in words for the user. */
class PictureRefused extends Error {}

/**
 * `image` as the picture to upload: its centre square at SIDE×SIDE, as WebP at quality 0.9, else
 * PNG, else (too large as PNG) JPEG. Refused when the browser cannot decode it.
 */
export async function squarePicture(image: Blob): Promise<Blob> {
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

export interface PictureControlsOptions {
  /**
   * What names the controls' ids and test ids: `picture` gives `picture-file`, `picture-input`,
   * `picture-form`, `picture-preview`, `picture-status` and `remove-picture`.
   */
  prefix: string;
  /** Whose picture is shown: a name (for the initial) and the picture's address, or null. */
  current: () => { name: string; picture: string | null } | null;
  /** Sends the picture made (squarePicture) and takes in the answer. */
  set: (picture: Blob) => Promise<void>;
  /** Takes the picture away and takes in the answer. */
  remove: () => Promise<void>;
  /** What the status line says while saving and removing, and once done. */
  says: { saving: string; saved: string; removing: string; removed: string };
}

/**
 * A picture and what changes it: the picture (or the initial), "Choose a picture" (a file) and
 * "Remove picture" (only when there is one), a refusal in words, and a status line (`status`,
 * placed by the caller). `render` draws the picture again from `current` (changed elsewhere);
 * `controls` is what a user who may not change it does not get.
 */
export function pictureControls(o: PictureControlsOptions): { el: HTMLElement; controls: HTMLElement; status: HTMLElement; render: () => void } {
  const preview = h('div', { class: 'picture-preview', 'data-testid': `${o.prefix}-preview` });
  const file = field({
    id: `${o.prefix}-file`,
    label: 'Choose a picture',
    type: 'file',
    required: false,
    hint: 'A PNG, JPEG, WebP or any other image your browser can open. Its centre square is used, resized to 256×256.',
    // Any image: it is decoded and encoded again here, so a GIF or a BMP will do.
    attrs: { accept: 'image/png,image/jpeg,image/webp,image/*', 'data-testid': `${o.prefix}-input` },
  });
  const err = errorBox();
  const status = h('p', { class: 'notice', role: 'status', 'data-testid': `${o.prefix}-status` });
  const remove = h('button', { type: 'button', class: 'ghost danger', 'data-testid': `remove-${o.prefix}` }, 'Remove picture');
  const render = () => {
    const now = o.current();
    if (!now) return;
    preview.replaceChildren(avatar(now.name, undefined, now.picture));
    remove.hidden = !now.picture;
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
    void change(async () => o.set(await squarePicture(chosen)), o.says.saving, o.says.saved);
  });
  remove.addEventListener('click', () => void change(o.remove, o.says.removing, o.says.removed));

  const controls = h('div', { class: 'picture-controls' }, file.wrap, err, h('div', { class: 'form-actions' }, remove));
  return { el: h('div', { class: 'picture', 'data-testid': `${o.prefix}-form` }, preview, controls), controls, status, render };
}
