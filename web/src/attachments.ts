// Attachments. A file is sealed here with a key of its own (AES-GCM, a fresh 256-bit key and IV
// per file) and uploaded to its chat as opaque bytes; the message describes it in its content —
// name, type, size, key and IV, as JSON — and that content is sealed for the chat's members as
// any text is when the chat is end-to-end encrypted. In a chat that is not, the content goes in
// clear, key included, as its text does: the server could open the file as it reads the text.
import { MAX_ATTACHMENT_BYTES, attachments as api, describeError } from './api';
import { h } from './dom';
import { MAX_PLAINTEXT_CHARS } from './events';
import { b64, random, unb64 } from './keyBytes';
import { withMentions } from './mentions';
import type { ViewMessage } from './state';
import type { MessageType } from './types';

/** Largest file: what the server stores, less the 16-byte tag sealing adds. */
export const MAX_FILE_BYTES = MAX_ATTACHMENT_BYTES - 16;

/** Types shown inline as images; any other file is offered for download. No SVG: a picture, not a document. */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);

/** What an `image` or `file` message's content says of its attachment. */
export interface FileRef {
  name: string;
  mime: string;
  size: number;
  /** The file's AES-GCM key (raw, base64) and IV (base64). */
  key: string;
  iv: string;
  /**
   * An image's preview, shown until the image itself is downloaded: a JPEG of at most
   * `THUMB_SIDE` pixels a side, base64, and the image's own size. Sealed with the rest of the
   * content, so the server sees no more of it than of the file.
   */
  thumb?: string;
  width?: number;
  height?: number;
  /** What the sender wrote with the file (the composer's text when they attached it). */
  caption?: string;
}

/** The longest side of an image's preview, in pixels. */
const THUMB_SIDE = 64;

/** The attachment `content` describes, or null when it describes none (still sealed, or malformed). */
export function fileRef(content: string): FileRef | null {
  let v: unknown;
  try {
    v = JSON.parse(content);
  } catch {
    return null;
  }
  const r = v as Partial<FileRef> | null;
  const ok = !!r && typeof r.name === 'string' && typeof r.mime === 'string' && typeof r.size === 'number' && typeof r.key === 'string' && typeof r.iv === 'string';
  if (!ok) return null;
  const ref = r as FileRef;
  if (ref.caption !== undefined && typeof ref.caption !== 'string') delete ref.caption;
  // A preview only as the PWA sends it: base64, with the image's size. Anything else is left out.
  if (typeof ref.thumb === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(ref.thumb) && dimension(ref.width) && dimension(ref.height)) return ref;
  const { thumb: _thumb, width: _width, height: _height, ...described } = ref;
  return described;
}

function dimension(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 100_000;
}

/** A message's text as a line (chat list, notifications, announcements): a file by its caption, or its name. */
export function summary(type: MessageType | undefined, text: string): string {
  const ref = type === 'image' || type === 'file' ? fileRef(text) : null;
  return ref ? `${type === 'image' ? '🖼' : '📎'} ${ref.caption || ref.name}` : text;
}

/** A file's name as sent: its last path segment, without control characters, at most 255 characters. */
function cleanName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = (name.split(/[\\/]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return [...(clean || 'file')].slice(0, 255).join('');
}

/**
 * Seals `file` for upload, with `caption` (what the sender wrote with it, if anything): the
 * message's type and content, and the bytes to upload. A caption too long for the content with
 * the file's description is refused before anything is sealed.
 */
export async function seal(file: File, caption = ''): Promise<{ type: MessageType; content: string; sealed: ArrayBuffer }> {
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt']);
  const iv = random(12);
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, await file.arrayBuffer());
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', key));
  const mime = file.type || 'application/octet-stream';
  const ref = withCaption({ name: cleanName(file.name), mime, size: file.size, key: b64(raw), iv: b64(iv) }, caption);
  if (IMAGE_TYPES.has(mime)) {
    // What the content has room for, past the rest of it and the preview's own keys.
    const room = MAX_PLAINTEXT_CHARS - JSON.stringify(ref).length - 64;
    Object.assign(ref, await preview(file, room));
  }
  return { type: IMAGE_TYPES.has(mime) ? 'image' : 'file', content: JSON.stringify(ref), sealed };
}

/**
 * `ref` with `caption` (none when empty): what a file's message says when it is sent, or edited
 * (the same file, a new caption). A caption too long for the content with the rest of `ref` is
 * refused.
 */
export function withCaption(ref: FileRef, caption: string): FileRef {
  const { caption: _old, ...rest } = ref;
  if (!caption) return rest;
  const room = MAX_PLAINTEXT_CHARS - JSON.stringify({ ...rest, caption: '' }).length;
  if (JSON.stringify(caption).length - 2 > room) throw new Error(`the text is too long to go with a file (at most ${room} characters)`);
  return { ...rest, caption };
}

/**
 * An image's preview (see `FileRef.thumb`) of at most `room` characters, or nothing when the
 * browser cannot decode the image or no JPEG of it fits.
 */
async function preview(file: Blob, room: number): Promise<Pick<FileRef, 'thumb' | 'width' | 'height'>> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return {};
  }
  try {
    const { width, height } = bitmap;
    const scale = Math.min(1, THUMB_SIDE / Math.max(width, height));
    const canvas = h('canvas', { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) });
    const g = canvas.getContext('2d');
    if (!g) return {};
    g.fillStyle = '#fff'; // under a transparent image's clear pixels (JPEG has no alpha)
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    for (const quality of [0.7, 0.5, 0.3]) {
      const jpeg = await new Promise<Blob | null>((done) => canvas.toBlob(done, 'image/jpeg', quality));
      if (!jpeg) return {};
      const thumb = b64(new Uint8Array(await jpeg.arrayBuffer()));
      if (thumb.length <= room) return { thumb, width, height };
    }
    return {};
  } finally {
    bitmap.close();
  }
}

/**
 * Files picked on this page whose message is not acknowledged yet, by clientMsgId: shown (an
 * image) from here while it waits, and kept as the sender's copy once sent (`remember`).
 */
const picked = new Map<string, Blob>();

/** Keeps the file picked for the message `clientMsgId` until it is sent or discarded. */
export function keepPicked(clientMsgId: string, file: Blob): void {
  picked.set(clientMsgId, file);
}

/** The file picked for the message `clientMsgId`, no longer kept here (sent or discarded). */
export function takePicked(clientMsgId: string): Blob | undefined {
  const file = picked.get(clientMsgId);
  picked.delete(clientMsgId);
  return file;
}

/**
 * Transfers going on from this page — uploads by `up:` and the message's clientMsgId, downloads
 * by `down:` and the attachment id — and the share of their bytes done.
 */
const moving = new Map<string, number>();

/**
 * How much of a transfer is done (0 to 1; `null` once it ended, either way), shown on every row
 * drawn of it, and on rows drawn later.
 */
function progressed(transfer: string, share: number | null): void {
  if (share === null) moving.delete(transfer);
  else moving.set(transfer, share);
  for (const bar of document.querySelectorAll<HTMLProgressElement>(`progress[data-transfer="${CSS.escape(transfer)}"]`)) showShare(bar, share);
}

/** How much of a message's file is uploaded (see `progressed`). */
export function uploadProgress(clientMsgId: string, share: number | null): void {
  progressed(`up:${clientMsgId}`, share);
}

/** A bar showing a transfer's progress while it goes (hidden otherwise). */
function progressBar(transfer: string, label: string, testId: string): HTMLProgressElement {
  const bar = h('progress', { class: 'transfer-progress', max: 1, 'data-transfer': transfer, 'data-testid': testId, 'aria-label': label });
  showShare(bar, moving.get(transfer) ?? null);
  return bar;
}

function showShare(bar: HTMLProgressElement, share: number | null): void {
  bar.hidden = share === null;
  if (share !== null) bar.value = share;
}

/** Files opened on this page, by attachment id, newest last; at most `KEPT` (10 MB each at most). */
const opened = new Map<string, Promise<Blob>>();
const KEPT = 24;

function keep(id: string, blob: Promise<Blob>): Promise<Blob> {
  opened.delete(id);
  opened.set(id, blob);
  while (opened.size > KEPT) opened.delete(opened.keys().next().value!);
  blob.catch(() => opened.delete(id)); // a failure is tried again next time
  return blob;
}

/** The file of an attachment: downloaded once per page, opened with the key its message carries. */
export function open(chatId: string, attachmentId: string, ref: FileRef): Promise<Blob> {
  const held = opened.get(attachmentId);
  if (held) return keep(attachmentId, held);
  return keep(
    attachmentId,
    (async () => {
      const transfer = `down:${attachmentId}`;
      let bytes: ArrayBuffer;
      try {
        bytes = await api.get(chatId, attachmentId, (share) => progressed(transfer, share));
      } finally {
        progressed(transfer, null);
      }
      const key = await crypto.subtle.importKey('raw', unb64(ref.key), 'AES-GCM', false, ['decrypt']);
      let plain: ArrayBuffer;
      try {
        plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: unb64(ref.iv) }, key, bytes);
      } catch {
        throw new Error('it does not open with the key its message carries (changed on the server?)');
      }
      // Typed only as the images shown: any other file is bytes, never a page of this origin
      // should its blob: URL be opened.
      return new Blob([plain], { type: typeOf(ref.mime) });
    })(),
  );
}

/** Forgets every file held for the page (signed out: whoever signs in next must not get them). */
export function forgetFiles(): void {
  picked.clear();
  opened.clear();
}

/** Keeps the file the user just sent, so their own copy is not downloaded again. */
export function remember(attachmentId: string, file: Blob): void {
  keep(attachmentId, Promise.resolve(new Blob([file], { type: typeOf(file.type) })));
}

/** The type a file's blob gets: its own for the images shown, bytes for anything else. */
function typeOf(mime: string): string {
  return IMAGE_TYPES.has(mime) ? mime : 'application/octet-stream';
}

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Saves the file under its name (the browser's download). */
function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * What a message's body shows: its text, or its attachment — an image inline (opened when shown),
 * any other file as a button that downloads it — named, with its size. A file still in the
 * outbox shows its name and its upload's progress, and an image picked on this page shows at
 * once (after a reload, until it is sent, the preview its message carries).
 */
export function body(m: ViewMessage): Node | string {
  const ref = m.type === 'text' ? null : fileRef(m.content);
  // Text as text nodes, its mentions of members as spans: never parsed as HTML.
  if (!ref) return fragment(withMentions(m.content, m.chatId));
  const label = `${ref.name} · ${sizeText(ref.size)}`;
  const id = m.attachmentId;
  if (!id) {
    // Not uploaded yet: a bar shows the upload while it goes.
    const bar = progressBar(`up:${m.clientMsgId}`, `Uploading ${ref.name}`, 'upload-progress');
    // The file picked on this page; else (after a reload) the preview its message carries.
    const file = picked.get(m.clientMsgId);
    const shown = m.type === 'image' && IMAGE_TYPES.has(ref.mime) && (file || ref.thumb) ? image(ref, Promise.resolve(file ?? null)) : null;
    return h('span', { class: 'attachment', 'data-testid': 'attachment' }, shown, `📎 ${label}`, bar, captionOf(ref, m.chatId));
  }
  const problem = h('span', { class: 'error', role: 'status', 'data-testid': 'attachment-error' });
  const fetchIt = async (): Promise<Blob | null> => {
    problem.textContent = '';
    try {
      return await open(m.chatId, id, ref);
    } catch (e) {
      problem.textContent = `Cannot open ${ref.name}: ${describeError(e)}`;
      return null;
    }
  };
  const download = h(
    'button',
    { type: 'button', class: 'link attachment-file', 'data-testid': 'attachment-download', 'aria-label': `Download ${label}` },
    `📎 ${label}`,
  );
  download.addEventListener('click', () => void fetchIt().then((b) => b && save(b, ref.name)));
  const bar = progressBar(`down:${id}`, `Downloading ${ref.name}`, 'download-progress');
  if (m.type !== 'image' || !IMAGE_TYPES.has(ref.mime)) return h('span', { class: 'attachment', 'data-testid': 'attachment' }, download, bar, problem, captionOf(ref, m.chatId));
  return h('span', { class: 'attachment', 'data-testid': 'attachment' }, image(ref, fetchIt()), download, bar, problem, captionOf(ref, m.chatId));
}

/** What the sender wrote with the file, as text, if anything. */
function captionOf(ref: FileRef, chatId: string): HTMLElement | null {
  return ref.caption ? h('span', { class: 'caption', 'data-testid': 'attachment-caption' }, ...withMentions(ref.caption, chatId)) : null;
}

function fragment(parts: (Node | string)[]): DocumentFragment {
  const f = document.createDocumentFragment();
  f.append(...parts);
  return f;
}

/** The size an image is shown at: its own, made to fit 18rem (288 px) a side. */
const SHOWN_SIDE = 288;

/**
 * An image shown once `blob` comes (`data-full` then), its preview until then when its message
 * carries one, in the box of the image's own proportions (nothing moves when it comes).
 */
function image(ref: FileRef, blob: Promise<Blob | null>): HTMLImageElement {
  const img = h('img', { class: 'attachment-image', alt: ref.name, 'data-testid': 'attachment-image' });
  if (ref.width && ref.height) {
    const scale = Math.min(1, SHOWN_SIDE / Math.max(ref.width, ref.height));
    img.width = Math.max(1, Math.round(ref.width * scale));
    img.height = Math.max(1, Math.round(ref.height * scale));
  }
  if (ref.thumb) {
    img.classList.add('preview');
    img.src = `data:image/jpeg;base64,${ref.thumb}`;
  }
  void blob.then((b) => {
    if (!b) return;
    const url = URL.createObjectURL(b);
    img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
    img.classList.remove('preview');
    img.dataset.full = 'true';
    img.src = url;
  });
  return img;
}
