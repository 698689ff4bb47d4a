// REST client and the access token. The token lives in this module's memory only; the refresh
// token is an HttpOnly cookie the browser sends to /api/auth/refresh.
import type { AuthResponse, Chat, DeleteAccountProof, ErrorBody, MemberPage, Message, MessagePage, PublicKeyJwk, PublicProfile, Session, TokenResponse, User, WrappedKey } from './types';

export class ApiError extends Error {
  constructor(
    public status: number,
    public body: ErrorBody,
  ) {
    super(body.message || body.code);
  }
  get code(): string {
    return this.body.code;
  }
}

/** A fetch that never reached the server (offline, DNS, connection refused). */
export class NetworkError extends Error {}

let accessToken: string | null = null;
let expiresAt = 0;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<string> | null = null;
let onSessionLost: () => void = () => {};

export function setSessionLostHandler(fn: () => void): void {
  onSessionLost = fn;
}

export function hasToken(): boolean {
  return accessToken !== null && Date.now() < expiresAt;
}

function setToken(t: TokenResponse): void {
  accessToken = t.accessToken;
  expiresAt = Date.now() + t.expiresIn * 1000;
  clearTimeout(refreshTimer);
  // Refresh a minute before expiry (or at 80% of a short lifetime).
  const lead = Math.min(60_000, t.expiresIn * 200);
  refreshTimer = setTimeout(() => {
    refresh().catch(() => {});
  }, Math.max(1000, t.expiresIn * 1000 - lead));
}

export function clearToken(): void {
  accessToken = null;
  expiresAt = 0;
  clearTimeout(refreshTimer);
}

/** How a request goes out: `fetch`, or XMLHttpRequest where the upload's progress is wanted. */
type Send = (method: string, path: string, headers: Record<string, string>, body?: BodyInit) => Promise<Response>;

const viaFetch: Send = (method, path, headers, body) => fetch(path, { method, headers, body, credentials: 'same-origin' });

/** XMLHttpRequest as a `Send`, for its upload events (fetch has none): `progress` is told the share of the body sent. */
function viaXhr(progress: (share: number) => void): Send {
  return (method, path, headers, body) =>
    new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open(method, path);
      x.responseType = 'arraybuffer';
      for (const [name, value] of Object.entries(headers)) x.setRequestHeader(name, value);
      x.upload.onprogress = (e) => {
        if (e.lengthComputable && e.total > 0) progress(e.loaded / e.total);
      };
      x.onload = () => {
        const got = new Headers();
        for (const line of x.getAllResponseHeaders().split(/\r?\n/)) {
          const at = line.indexOf(':');
          if (at > 0) got.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
        }
        try {
          const empty = [204, 205, 304].includes(x.status);
          resolve(new Response(empty ? null : (x.response as ArrayBuffer), { status: x.status, statusText: x.statusText, headers: got }));
        } catch (e) {
          reject(e); // a status a Response cannot have (0): as a failed fetch
        }
      };
      x.onerror = x.onabort = x.ontimeout = () => reject(new TypeError('the request did not reach the server'));
      x.send((body ?? null) as XMLHttpRequestBodyInit | null);
    });
}

/** A request with the access token (refreshed, and the request retried once, when a 401 refuses the token). */
async function authorized(method: string, path: string, headers: Record<string, string>, body?: BodyInit, auth = true, send: Send = viaFetch): Promise<Response> {
  if (auth) {
    if (!hasToken()) await refresh();
    headers.Authorization = `Bearer ${accessToken}`;
  }
  const go = async (): Promise<Response> => {
    try {
      return await send(method, path, headers, body);
    } catch (e) {
      throw new NetworkError(String(e));
    }
  };
  const res = await go();
  if (res.status !== 401 || !auth || !(await refusesToken(res))) return res;
  // The token may have been revoked or expired early: one refresh, one retry.
  await refresh();
  headers.Authorization = `Bearer ${accessToken}`;
  return go();
}

/**
 * Whether a 401 refuses the access token (`unauthorized`: expired, revoked), which a refresh may
 * mend, rather than something the request carried: a wrong current password
 * (`invalid_credentials`) is a 401 too, and a retry would only count a second failure against
 * the account. Read from a clone, since the caller reads the body. A 401 that names no code (not
 * one of the server's: a proxy's) is taken as the token's, as every 401 was before.
 */
async function refusesToken(res: Response): Promise<boolean> {
  try {
    const code = ((await res.clone().json()) as { error?: ErrorBody } | null)?.error?.code;
    return code === undefined || code === 'unauthorized';
  } catch {
    return true;
  }
}

/** The `ApiError` a failed response carries (its JSON error body, or its status). */
async function failure(res: Response): Promise<ApiError> {
  let json: unknown = undefined;
  try {
    json = JSON.parse(await res.text());
  } catch {
    /* not JSON */
  }
  const err = (json as { error?: ErrorBody } | undefined)?.error ?? { code: `http_${res.status}`, message: res.statusText || `HTTP ${res.status}` };
  const retryAfter = Number(res.headers.get('Retry-After'));
  if (retryAfter > 0 && err.retryAfter === undefined) err.retryAfter = retryAfter;
  return new ApiError(res.status, err);
}

async function request<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await authorized(method, path, headers, body === undefined ? undefined : JSON.stringify(body), auth);
  if (!res.ok) throw await failure(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  try {
    return (text ? JSON.parse(text) : undefined) as T;
  } catch {
    return undefined as T;
  }
}

/**
 * Exchanges the session cookie for a fresh access token. Single-flight within the tab and
 * serialized across tabs (Web Locks) because the server rotates the refresh token and treats a
 * reused one as theft.
 */
export function refresh(): Promise<string> {
  if (inflight) return inflight;
  const run = async (): Promise<string> => {
    let res: Response;
    try {
      res = await fetch('/api/auth/refresh', { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' } });
    } catch (e) {
      throw new NetworkError(String(e));
    }
    if (!res.ok) {
      let body: ErrorBody = { code: 'unauthorized', message: 'session expired' };
      try {
        body = ((await res.json()) as { error: ErrorBody }).error ?? body;
      } catch {
        /* ignore */
      }
      if (res.status === 401 || res.status === 403) {
        clearToken();
        onSessionLost();
      }
      throw new ApiError(res.status, body);
    }
    const t = (await res.json()) as TokenResponse;
    setToken(t);
    return t.accessToken;
  };
  const locked = (): Promise<string> =>
    navigator.locks ? navigator.locks.request('batiyoun-refresh', run).then((t) => t) : run();
  inflight = locked().finally(() => {
    inflight = null;
  });
  return inflight;
}

// --- auth-api ---------------------------------------------------------------------------------

export const auth = {
  signup: (b: { email: string; username: string; password: string; displayName?: string }) =>
    request<{ user: User }>('POST', '/api/auth/signup', b, false),
  requestOtp: (email: string) => request<void>('POST', '/api/auth/request-otp', { email }, false),
  async verifyOtp(email: string, code: string): Promise<User> {
    const r = await request<AuthResponse>('POST', '/api/auth/verify-otp', { email, code }, false);
    setToken(r);
    return r.user;
  },
  async login(login: string, password: string): Promise<User> {
    const r = await request<AuthResponse>('POST', '/api/auth/login', { login, password }, false);
    setToken(r);
    return r.user;
  },
  async logout(): Promise<void> {
    try {
      await request<void>('POST', '/api/auth/logout', undefined, false);
    } finally {
      clearToken();
    }
  },
  verifyMe: () => request<{ user: User }>('GET', '/api/auth/verify-me').then((r) => r.user),
  /**
   * Sets a new password with a code from `requestOtp` (no session needed) and signs in, as
   * `verifyOtp` does; the server signs every earlier session of the account out.
   */
  async resetPassword(email: string, code: string, newPassword: string): Promise<User> {
    const r = await request<AuthResponse>('POST', '/api/auth/reset-password', { email, code, newPassword }, false);
    setToken(r);
    return r.user;
  },
  /** Changes the password; answers how many other sessions the server signed out (this one stays). */
  changePassword: (currentPassword: string, newPassword: string) =>
    request<{ revoked: number }>('POST', '/api/auth/password', { currentPassword, newPassword }).then((r) => r.revoked),
  /**
   * Asks to move the account to `newEmail`, the password proving it is the user: a 6-digit code
   * is mailed to that address (asked again, a new one replaces it). A wrong password is a 401
   * `invalid_credentials`, which `authorized` does not retry (it would count twice).
   */
  requestEmailChange: (newEmail: string, password: string) =>
    request<{ message: string }>('POST', '/api/auth/email', { newEmail, password }).then(() => undefined),
  /** Makes `newEmail` the account's with the code mailed there; answers the account as it now is. */
  confirmEmailChange: (newEmail: string, code: string) =>
    request<{ user: User }>('POST', '/api/auth/email/confirm', { newEmail, code }).then((r) => r.user),
  /** The caller's sessions, most recently active first; `current` is this one. */
  sessions: () => request<{ sessions: Session[] }>('GET', '/api/auth/sessions').then((r) => r.sessions),
  /** Signs one session out (404 `not_found` when it is gone already, or not the caller's). */
  revokeSession: (id: string) => request<void>('DELETE', `/api/auth/sessions/${encodeURIComponent(id)}`),
  /** Signs out every session but this one; answers how many. */
  revokeOtherSessions: () => request<{ revoked: number }>('DELETE', '/api/auth/sessions').then((r) => r.revoked),
  /**
   * Deletes the account for good, proven by the password or a code from `requestOtp`. Every
   * session is signed out (this one too: the cookie is cleared) and the token goes. A wrong
   * password is a 401 `invalid_credentials`, counted with failed logins, which `authorized`
   * does not retry.
   */
  async deleteAccount(proof: DeleteAccountProof): Promise<void> {
    await request<void>('POST', '/api/auth/delete-account', proof);
    clearToken();
  },
};

export const users = {
  /** Sets the caller's display name (trimmed by the server), or clears it (`null`: the username shows). */
  updateMe: (displayName: string | null) => request<{ user: User }>('PATCH', '/api/users/me', { displayName }).then((r) => r.user),
  /**
   * Makes `image` the caller's profile picture: its bytes, sent as its type (PNG, JPEG or WebP, at
   * most MAX_PICTURE_BYTES; account.ts sends a 256×256 WebP). The answer's `avatar` names it.
   */
  async setPicture(image: Blob): Promise<User> {
    const res = await authorized('PUT', '/api/users/me/avatar', { Accept: 'application/json', 'Content-Type': image.type }, image);
    if (!res.ok) throw await failure(res);
    return ((await res.json()) as { user: User }).user;
  },
  /** Takes the caller's profile picture away (their initial shows again); fine when there was none. */
  removePicture: () => request<{ user: User }>('DELETE', '/api/users/me/avatar').then((r) => r.user),
  search: (q: string) =>
    request<{ users: PublicProfile[] }>('GET', `/api/users/search?q=${encodeURIComponent(q)}`).then((r) => r.users),
  /** Up to MAX_PROFILE_IDS users' profiles in one request; unknown ids are left out. */
  many: (ids: string[]) =>
    request<{ users: PublicProfile[] }>('GET', `/api/users?ids=${ids.map(encodeURIComponent).join(',')}`).then((r) => r.users),
};

/** The end-to-end key directory and the caller's key backup (see e2e.ts). */
export const keys = {
  /** A user's published public key; null when they published none. */
  async get(userId: string): Promise<PublicKeyJwk | null> {
    try {
      return (await request<{ publicKey: PublicKeyJwk }>('GET', `/api/users/${encodeURIComponent(userId)}/keys`)).publicKey;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  },
  /** Up to MAX_PROFILE_IDS users' published keys in one request; those without one are left out. */
  many: (ids: string[]) =>
    request<{ keys: { userId: string; publicKey: PublicKeyJwk }[] }>('GET', `/api/users/keys?ids=${ids.map(encodeURIComponent).join(',')}`).then((r) => r.keys),
  /** Publishes the caller's key without a backup (which drops the backup of the key it replaces). */
  put: (publicKey: PublicKeyJwk) => request<unknown>('PUT', '/api/users/me/keys', { publicKey }),
  putBackup: (publicKey: PublicKeyJwk, backup: WrappedKey) => request<unknown>('PUT', '/api/users/me/key-backup', { publicKey, backup }),
  getBackup: () => request<{ publicKey: PublicKeyJwk; backup: WrappedKey }>('GET', '/api/users/me/key-backup'),
};

/** Largest picture kept, in bytes: a profile's (auth-api) or a group's (realtime). */
export const MAX_PICTURE_BYTES = 256 * 1024;

/** Most ids one `users.many` asks for (the server's limit). */
export const MAX_PROFILE_IDS = 100;

// --- realtime ---------------------------------------------------------------------------------

/** A chat as this user reads it: the server leaves `muted` out when false, which here says so. */
function ownRead(chat: Chat): Chat {
  const muted = chat.muted === true;
  return { ...chat, muted, mutedUntil: muted ? chat.mutedUntil : undefined };
}

export const chats = {
  /** Groups come without their member lists (`membersOmitted`): a reconnect reloads this list. */
  list: () => request<{ chats: Chat[] }>('GET', '/api/chats?members=direct').then((r) => r.chats.map(ownRead)),
  /** A group comes without its members, as in the list: they come a page at a time (`members`). */
  get: (chatId: string) => request<Chat>('GET', `/api/chats/${encodeURIComponent(chatId)}?members=direct`).then(ownRead),
  /** Mutes the chat for this user, on all their devices (`muted`), until `until` or until unmuted; or unmutes it. */
  setMuted: (chatId: string, muted: boolean, until?: string) => request<void>(muted ? 'PUT' : 'DELETE', `/api/chats/${encodeURIComponent(chatId)}/mute`, muted && until ? { until } : undefined),
  /** Up to `limit` members ordered by id, after the id `after` (a previous page's `nextCursor`). */
  members: (chatId: string, after: string | null, limit: number) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (after) q.set('after', after);
    return request<MemberPage>('GET', `/api/chats/${encodeURIComponent(chatId)}/members?${q}`);
  },
  direct: (userId: string) => request<Chat>('POST', '/api/chats', { type: 'direct', userId }),
  /** A new group; a passcode lets anyone with the group's ID join, a topic says what it is about. */
  group: (name: string, memberIds: string[], opts: { passcode?: string; topic?: string } = {}) =>
    request<Chat>('POST', '/api/chats', {
      type: 'group',
      name,
      memberIds,
      ...(opts.passcode ? { passcode: opts.passcode } : {}),
      ...(opts.topic ? { topic: opts.topic } : {}),
    }),
  // Joining and the group changes below answer the chat as `get` does, without a group's members.
  join: (chatId: string, passcode: string) =>
    request<Chat>('POST', `/api/chats/${encodeURIComponent(chatId)}/join?members=direct`, { passcode }),
  rename: (chatId: string, name: string) => request<Chat>('PATCH', `/api/chats/${encodeURIComponent(chatId)}?members=direct`, { name }),
  /** Sets a group's topic (admins only); `null` clears it. */
  setTopic: (chatId: string, topic: string | null) => request<Chat>('PATCH', `/api/chats/${encodeURIComponent(chatId)}?members=direct`, { topic }),
  /**
   * Makes `image` a group's picture (admins only): its bytes, sent as its type (PNG, JPEG or WebP,
   * at most MAX_PICTURE_BYTES; groupPicture.ts sends a 256×256 WebP). The answer's `picture`
   * names it.
   */
  async setPicture(chatId: string, image: Blob): Promise<Chat> {
    const res = await authorized('PUT', `/api/chats/${encodeURIComponent(chatId)}/picture?members=direct`, { Accept: 'application/json', 'Content-Type': image.type }, image);
    if (!res.ok) throw await failure(res);
    return (await res.json()) as Chat;
  },
  /** Takes a group's picture away (admins only): its initial shows again. */
  removePicture: (chatId: string) => request<Chat>('DELETE', `/api/chats/${encodeURIComponent(chatId)}/picture?members=direct`),
  /**
   * A group's picture at `url` (its `Chat.picture`, checked by the caller to be this origin's):
   * members only, so fetched with the token, which an `<img src>` cannot send.
   */
  async picture(url: string): Promise<Blob> {
    const res = await authorized('GET', url, { Accept: 'image/webp,image/png,image/jpeg' });
    if (!res.ok) throw await failure(res);
    return res.blob();
  },
  /** Deletes a group and its messages, for everyone (admins only). */
  remove: (chatId: string) => request<void>('DELETE', `/api/chats/${encodeURIComponent(chatId)}`),
  addMembers: (chatId: string, userIds: string[]) =>
    request<Chat>('POST', `/api/chats/${encodeURIComponent(chatId)}/members?members=direct`, { userIds }),
  /** An admin removes a member, or a member removes themself (leaves). */
  removeMember: (chatId: string, userId: string) =>
    request<Chat>('DELETE', `/api/chats/${encodeURIComponent(chatId)}/members/${encodeURIComponent(userId)}?members=direct`),
  /** An admin makes a member an admin too (`admin`), or no longer one (the last admin cannot). */
  setAdmin: (chatId: string, userId: string, admin: boolean) =>
    request<Chat>(admin ? 'PUT' : 'DELETE', `/api/chats/${encodeURIComponent(chatId)}/admins/${encodeURIComponent(userId)}?members=direct`),
  /** Pins a message of the chat, first among its pins (any member), or unpins it (`pinned` false). */
  setPinned: (chatId: string, messageId: string, pinned: boolean) =>
    request<Chat>(pinned ? 'PUT' : 'DELETE', `/api/chats/${encodeURIComponent(chatId)}/pins/${encodeURIComponent(messageId)}?members=direct`),
  /** One message as stored, with everyone who received and read it (for the chat's members). */
  message: (chatId: string, messageId: string) => request<Message>('GET', `/api/chats/${encodeURIComponent(chatId)}/messages/${encodeURIComponent(messageId)}`),
  messages: (chatId: string, before?: string, limit = 30) => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before) q.set('before', before);
    return request<MessagePage>('GET', `/api/chats/${encodeURIComponent(chatId)}/messages?${q}`);
  },
};

/** Largest attachment the server stores, in bytes as uploaded (`MAX_ATTACHMENT_BYTES`). */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

/** Attachments: opaque bytes (ours are sealed, see attachments.ts) stored in a chat for its members. */
export const attachments = {
  /** Uploads `bytes`; `progress` is told the share of them sent as they go. */
  upload: async (chatId: string, bytes: ArrayBuffer, progress?: (share: number) => void): Promise<{ id: string; chatId: string; size: number }> => {
    const headers = { Accept: 'application/json', 'Content-Type': 'application/octet-stream' };
    const send = progress ? viaXhr(progress) : viaFetch;
    const res = await authorized('POST', `/api/chats/${encodeURIComponent(chatId)}/attachments`, headers, bytes, true, send);
    if (!res.ok) throw await failure(res);
    return res.json();
  },
  /** Downloads the bytes; `progress` is told the share of them received as they come. */
  get: async (chatId: string, id: string, progress?: (share: number) => void): Promise<ArrayBuffer> => {
    const res = await authorized('GET', `/api/chats/${encodeURIComponent(chatId)}/attachments/${encodeURIComponent(id)}`, {});
    if (!res.ok) throw await failure(res);
    const total = Number(res.headers.get('Content-Length'));
    if (!progress || !res.body || !(total > 0)) return res.arrayBuffer();
    const bytes = new Uint8Array(total);
    let at = 0;
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (at + value.byteLength > total) throw new NetworkError('more bytes than the download announced');
        bytes.set(value, at);
        at += value.byteLength;
        progress(at / total);
      }
    } catch (e) {
      throw e instanceof NetworkError ? e : new NetworkError(String(e));
    }
    if (at !== total) throw new NetworkError('the download was cut short');
    return bytes.buffer;
  },
};

/**
 * A human sentence for an error, with per-field details when the server gave them, each field
 * named by its label in `labels` when the form gave one (`newPassword` → "New password").
 */
export function describeError(e: unknown, labels: Record<string, string> = {}): string {
  if (e instanceof NetworkError) return 'You appear to be offline. Try again when you are connected.';
  if (e instanceof ApiError) {
    if (e.body.fields) {
      return Object.entries(e.body.fields)
        .map(([f, msgs]) => `${labels[f] ?? f}: ${msgs.join(', ')}`)
        .join('; ');
    }
    switch (e.code) {
      case 'invalid_credentials':
        return 'Wrong username/email or password.';
      case 'email_not_verified':
        return 'Your email is not verified yet. Enter the code we sent you.';
      case 'email_taken':
        return 'That email is already registered. Try logging in.';
      case 'username_taken':
        return 'That username is taken. Pick another one.';
      case 'invalid_otp':
        return 'That code is wrong or has expired. Request a new one.';
      case 'rate_limited': {
        const wait = e.body.retryAfter;
        return wait ? `Too many attempts. Please wait ${waitText(wait)} and try again.` : 'Too many attempts. Please wait a little and try again.';
      }
      case 'invalid_passcode':
        return 'Wrong passcode.';
      case 'account_deleted':
        return 'This account was deleted.';
      case 'unsupported_media_type':
        return 'That file is not a PNG, JPEG or WebP image.';
      case 'quota_exceeded':
        return 'Your files take all the room this server keeps for you. Ask its administrator for more.';
      default:
        return e.message;
    }
  }
  return e instanceof Error ? e.message : String(e);
}

/** A `Retry-After` in words: "40 seconds", "3 minutes". */
export function waitText(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}
