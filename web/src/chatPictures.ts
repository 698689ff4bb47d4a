// Groups' pictures, as the avatars show them (viewKit.ts `avatar`). realtime serves a group's
// picture to its members only (`GET /api/chats/{id}/picture?v=…`, with the Bearer token), so an
// `<img src>` cannot load it by its address, as it does a profile picture: each is fetched with
// the token and shown from a `blob:` URL, made once per address (a new picture has a new one)
// and kept for the page; all are forgotten (revoked) at logout, as opened files are.
import { chats as chatsApi } from './api';

/** The types a group's picture may be (what realtime takes): anything else is not shown. */
const PICTURE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp']);

interface Held {
  loading: Promise<string>;
  src?: string;
}

/**
 * Pictures fetched, by address, newest used last; `src` once it came. At most KEPT, far more
 * than a chat list shows (a 256×256 WebP is some tens of KB): one that goes is revoked, and
 * fetched again should it be shown again.
 */
const held = new Map<string, Held>();
const KEPT = 300;
/** Counts logouts: a fetch that comes back after one is not kept. */
let session = 0;

/**
 * Where a group's picture may be fetched from: `url` when it is this origin's `/api/chats/…` (as
 * realtime names one), else null. The token goes with it: never to another site, never for
 * another path of ours.
 */
export function chatPictureSrc(url: string | null | undefined): string | null {
  if (!url?.startsWith('/api/chats/')) return null;
  try {
    const u = new URL(url, location.origin);
    return u.origin === location.origin && u.pathname.startsWith('/api/chats/') ? url : null;
  } catch {
    return null;
  }
}

/** The `blob:` URL of the picture at `url` when it is here already (drawn at once, no flicker). */
export function heldChatPicture(url: string): string | undefined {
  const got = held.get(url);
  if (got?.src) touch(url, got);
  return got?.src;
}

/**
 * The `blob:` URL of the group's picture at `url` (checked by `chatPictureSrc`), fetched once.
 * A failure (offline, gone, not an image) is not kept: asked again, it is fetched again.
 */
export function loadChatPicture(url: string): Promise<string> {
  const got = held.get(url);
  if (got) {
    touch(url, got);
    return got.loading;
  }
  const mine = session;
  const loading = chatsApi.picture(url).then((blob) => {
    if (!PICTURE_TYPES.has(blob.type)) throw new Error(`not a picture (${blob.type || 'no type'})`);
    if (mine !== session || held.get(url) !== entry) throw new Error('forgotten meanwhile');
    entry.src = URL.createObjectURL(blob);
    return entry.src;
  });
  const entry: Held = { loading };
  entry.loading.catch(() => {
    if (held.get(url) === entry) held.delete(url);
  });
  touch(url, entry);
  return entry.loading;
}

function touch(url: string, entry: Held): void {
  held.delete(url);
  held.set(url, entry);
  while (held.size > KEPT) {
    const [oldest, gone] = held.entries().next().value!;
    held.delete(oldest);
    if (gone.src) URL.revokeObjectURL(gone.src);
  }
}

/** Forgets every picture held (signed out: whoever signs in next must not see them). */
export function forgetChatPictures(): void {
  session++;
  for (const { src } of held.values()) if (src) URL.revokeObjectURL(src);
  held.clear();
}
