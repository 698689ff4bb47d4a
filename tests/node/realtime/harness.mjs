// Harness for driving the `realtime` binary with the official socket.io-client: a JWKS endpoint
// standing in for auth-api (Ed25519 key, EdDSA access tokens), the binary spawned on port 0 with
// the address parsed from its start-up log, and small promise helpers around socket.io-client.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..', '..');
export const BINARY = path.join(process.env.CARGO_TARGET_DIR || path.join(REPO, 'target'), 'debug', 'realtime');
export const ISSUER = 'batiyoun-auth';
export const AUDIENCE = 'batiyoun';
const WAIT_MS = 10_000;

/** Builds the binary when it is missing (the README's test command builds it first). */
export function ensureBinary() {
  if (fs.existsSync(BINARY)) return;
  const r = spawnSync('cargo', ['build', '-p', 'realtime', '--bin', 'realtime'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('cargo build -p realtime failed');
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** An Ed25519 key served as a JWKS, and a minter of access tokens signed with it. */
export async function startAuth() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  const kid = b64url(crypto.createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest());
  const jwks = { keys: [{ ...jwk, kid, alg: 'EdDSA', use: 'sig' }] };
  const server = http.createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/.well-known/jwks.json`;
  const mint = ({ sub, sid }, { aud = AUDIENCE, expiresIn = 600 } = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'EdDSA', typ: 'at+jwt', kid };
    const claims = { sub, sid, iss: ISSUER, aud, iat: now, nbf: now, exp: now + expiresIn, jti: crypto.randomUUID(), typ: 'access' };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(crypto.sign(null, Buffer.from(input), privateKey))}`;
  };
  return { url, mint, close: () => new Promise((r) => server.close(r)) };
}

/** Spawns `realtime` with only the given environment; resolves once it logs its address. */
export async function startRealtime(env) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batiyoun-realtime-'));
  const child = spawn(BINARY, [], {
    cwd: dataDir,
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'json', RUST_LOG: 'info', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`realtime did not start:\n${log}`)), WAIT_MS * 3);
    const onData = (chunk) => {
      log += chunk;
      const m = log.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`realtime exited with ${code}:\n${log}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, stop, log: () => log };
}

/** Connects; resolves with the socket, or rejects with the `connect_error` message. */
export function connect(url, token, { origin, transports } = {}) {
  const socket = io(url, {
    auth: token === undefined ? undefined : { token },
    reconnection: false,
    forceNew: true,
    transports: transports ?? ['websocket'],
    extraHeaders: origin ? { Origin: origin } : undefined,
  });
  socket.seen = [];
  socket.onAny((event, payload) => socket.seen.push({ event, payload }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer to CONNECT')), WAIT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
  });
}

/** Emits with an ack and resolves with the ack's argument. */
export function ack(socket, event, payload) {
  return socket.timeout(WAIT_MS).emitWithAck(event, payload);
}

/** Resolves with the next `event` payload (or one already received and not yet taken). */
export function next(socket, event) {
  const i = socket.seen.findIndex((s) => s.event === event);
  if (i >= 0) return Promise.resolve(socket.seen.splice(i, 1)[0].payload);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${WAIT_MS} ms`)), WAIT_MS);
    const handler = (e, payload) => {
      if (e !== event) return;
      clearTimeout(timer);
      socket.offAny(handler);
      const j = socket.seen.findIndex((s) => s.event === event);
      if (j >= 0) socket.seen.splice(j, 1);
      resolve(payload);
    };
    socket.onAny(handler);
  });
}

/** A REST call with a bearer token; resolves with `{status, body}`. */
export async function rest(url, token, method, pathname, body) {
  const r = await fetch(`${url}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
