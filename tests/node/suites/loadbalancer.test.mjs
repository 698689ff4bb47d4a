// The load balancer of the deployment (deploy/nginx/batiyoun.conf, run by Debian's nginx) in front
// of two realtime processes sharing Redis and the Mongo-wire server: REST and Socket.IO through
// it, the polling → websocket upgrade on the sticky upstream, a websocket-only client, and a
// message fanned out to a user's devices on both instances.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NGINX, startNginx } from '../lb/nginx.mjs';
import { REPO, ack, connect, ensureBinary, next, rest, startAuth, startRealtime } from '../realtime/harness.mjs';

/** A backend URL for the test; skips locally when unset, fails under CI=true. */
function backend(name) {
  const url = process.env[name];
  if (url) return url;
  if (process.env.CI === 'true') throw new Error(`${name} is not set, and CI=true requires the real backend`);
  return null;
}

const redis = backend('TEST_REDIS_URL');
const mongo = backend('TEST_MONGODB_URL');
const hasNginx = fs.existsSync(NGINX);
if (process.env.CI === 'true' && !hasNginx) throw new Error(`${NGINX} missing: .ci/run installs nginx-light`);
const skip = !redis || !mongo || !hasNginx ? 'needs TEST_REDIS_URL, TEST_MONGODB_URL and nginx' : false;

const user = () => ({ sub: crypto.randomUUID(), sid: crypto.randomUUID() });
const hostPort = (url) => new URL(url).host;

describe('nginx load balancer in front of two realtime instances', { skip, timeout: 120_000 }, () => {
  let auth;
  let nodes = [];
  let lb;
  let webRoot;
  const sockets = [];

  before(async () => {
    ensureBinary();
    auth = await startAuth();
    const tag = crypto.randomUUID().slice(0, 8);
    const env = {
      AUTH_JWKS_URL: auth.url,
      REDIS_URL: redis,
      REDIS_PREFIX: `t_lb_${tag}:`,
      MONGODB_URL: mongo,
      MONGODB_DB: `t_lb_${tag}`,
    };
    nodes = [await startRealtime(env), await startRealtime(env)];
    webRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'batiyoun-web-'));
    fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>Batiyoun</title>');
    fs.mkdirSync(path.join(webRoot, 'assets'));
    fs.writeFileSync(path.join(webRoot, 'assets', 'index-1a2b.js'), "console.log('built')");
    for (const dir of [webRoot, path.join(webRoot, 'assets')]) fs.chmodSync(dir, 0o755); // nginx workers run as an unprivileged user
    lb = await startNginx({
      repo: REPO,
      realtime: nodes.map((n) => hostPort(n.url)),
      auth: hostPort(auth.url),
      webRoot,
    });
  });

  after(async () => {
    for (const s of sockets) s.close();
    await lb?.stop();
    for (const n of nodes) await n.stop();
    await auth?.close();
    if (webRoot) fs.rmSync(webRoot, { recursive: true, force: true });
  });

  const open = async (url, u, opts) => {
    const s = await connect(url, auth.mint(u), opts);
    sockets.push(s);
    return s;
  };

  test('routes the PWA, auth-api and realtime paths', async () => {
    assert.match(await (await fetch(`${lb.url}/`)).text(), /Batiyoun/);
    assert.match(await (await fetch(`${lb.url}/some/client/route`)).text(), /Batiyoun/, 'SPA fallback');
    const hashed = await fetch(`${lb.url}/assets/index-1a2b.js`);
    assert.equal(hashed.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(await hashed.text(), "console.log('built')");
    const missing = await fetch(`${lb.url}/assets/index-9z8y.js`);
    assert.equal(missing.status, 404, 'a build file the server lacks is not answered with the page');
    assert.equal(missing.headers.get('cache-control'), null, 'a 404 is not kept');
    for (const p of ['/', '/some/client/route']) {
      assert.equal((await fetch(`${lb.url}${p}`)).headers.get('cache-control'), 'no-cache', `${p} is asked again each time`);
    }
    // The same policy and headers as the launcher's (crates/launcher/tests/launch.rs pins them).
    const host = new URL(lb.url).host;
    const policy = `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self' wss://${host} ws://${host}; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;
    for (const p of ['/', '/some/client/route', '/assets/index-1a2b.js']) {
      const { headers } = await fetch(`${lb.url}${p}`);
      assert.equal(headers.get('content-security-policy'), policy, p);
      assert.equal(headers.get('x-content-type-options'), 'nosniff', p);
      assert.equal(headers.get('referrer-policy'), 'no-referrer', p);
      assert.equal(headers.get('x-frame-options'), 'DENY', p);
    }
    const jwks = await (await fetch(`${lb.url}/.well-known/jwks.json`)).json();
    assert.equal(jwks.keys[0].alg, 'EdDSA', '/.well-known goes to auth-api');
    const chats = await rest(lb.url, auth.mint(user()), 'GET', '/api/chats');
    assert.equal(chats.status, 200, '/api/chats goes to realtime');
  });

  test('an attachment of up to 10 MiB passes the balancer, and other bodies stay small', async () => {
    const [a, b] = [user(), user()];
    const chat = await rest(lb.url, auth.mint(a), 'POST', '/api/chats', { type: 'direct', userId: b.sub });
    assert.equal(chat.status, 201, JSON.stringify(chat.body));
    const upload = (bytes) =>
      fetch(`${lb.url}/api/chats/${chat.body.id}/attachments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${auth.mint(a)}`, 'content-type': 'application/octet-stream' },
        body: bytes,
      });
    const max = 10 * 1024 * 1024;
    const bytes = crypto.randomBytes(max);
    const created = await upload(bytes);
    assert.equal(created.status, 201);
    const { id } = await created.json();
    // Read back through each instance directly: it went to the shared store, not to one of them.
    for (const node of nodes) {
      const got = await fetch(`${node.url}/api/chats/${chat.body.id}/attachments/${id}`, { headers: { authorization: `Bearer ${auth.mint(b)}` } });
      assert.equal(got.status, 200);
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes));
    }
    assert.equal((await upload(crypto.randomBytes(max + 1))).status, 413);
    const big = await fetch(`${lb.url}/api/chats`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auth.mint(a)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'group', name: 'x'.repeat(300 * 1024), memberIds: [] }),
    });
    assert.equal(big.status, 413, 'other paths keep the small limit');
  });

  test('a polling client upgrades to websocket through the balancer and chats with a websocket-only client', async () => {
    const [alice, bob] = [user(), user()];
    const created = await rest(lb.url, auth.mint(alice), 'POST', '/api/chats', { type: 'direct', userId: bob.sub });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const chatId = created.body.id;

    const a = await open(lb.url, alice, { transports: ['polling', 'websocket'] });
    if (a.io.engine.transport.name !== 'websocket') {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no upgrade to websocket through nginx')), 10_000);
        a.io.engine.once('upgrade', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    assert.equal(a.io.engine.transport.name, 'websocket');
    const b = await open(lb.url, bob, { transports: ['websocket'] });
    // Bob's other devices, one on each instance, bypassing the balancer: both must get the message.
    const bobOnEach = await Promise.all(nodes.map((n) => open(n.url, bob)));

    const sent = await ack(a, 'send_message', { chatId, clientMsgId: crypto.randomUUID(), content: 'through nginx', encrypted: false });
    assert.equal(sent.ok, true, JSON.stringify(sent));
    assert.deepEqual(await next(b, 'new_message'), sent.message);
    for (const device of bobOnEach) assert.deepEqual(await next(device, 'new_message'), sent.message);

    const reply = await ack(b, 'send_message', { chatId, clientMsgId: crypto.randomUUID(), content: 'back at you', encrypted: false });
    assert.equal(reply.ok, true, JSON.stringify(reply));
    assert.equal((await next(a, 'new_message')).content, 'back at you');

    // nginx logs a proxied WebSocket when it closes.
    a.close();
    b.close();
    const upgraded = /GET \/socket\.io\/\?EIO=4&transport=websocket[^"]* HTTP\/1\.1" 101/;
    const deadline = Date.now() + 10_000;
    while (!upgraded.test(lb.accessLog()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const log = lb.accessLog();
    assert.match(log, /GET \/socket\.io\/\?EIO=4&transport=polling[^"]* HTTP\/1\.1" 200/, 'polling went through nginx');
    assert.match(log, upgraded, 'websocket upgrade went through nginx');
  });
});
