// The realtime binary driven by the official socket.io-client (the client the PWA uses): a
// direct-message exchange with acks, delivery and read receipts, history, polling transport, and
// connect refusals. Embedded backends (no environment), as a newcomer would run it.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ack, connect, ensureBinary, next, rest, startAuth, startRealtime } from '../realtime/harness.mjs';

const user = () => ({ sub: crypto.randomUUID(), sid: crypto.randomUUID() });

describe('realtime with socket.io-client', { timeout: 120_000 }, () => {
  let auth;
  let server;
  const sockets = [];

  before(async () => {
    ensureBinary();
    auth = await startAuth();
    server = await startRealtime({ AUTH_JWKS_URL: auth.url });
  });

  after(async () => {
    for (const s of sockets) s.close();
    await server?.stop();
    await auth?.close();
  });

  const open = async (u, opts) => {
    const s = await connect(server.url, auth.mint(u), opts);
    sockets.push(s);
    return s;
  };

  test('two users exchange a direct message with durable acks and receipts', async () => {
    const [alice, bob] = [user(), user()];
    const created = await rest(server.url, auth.mint(alice), 'POST', '/api/chats', { type: 'direct', userId: bob.sub });
    assert.equal(created.status, 201);
    const chatId = created.body.id;
    const a = await open(alice);
    const b = await open(bob, { transports: ['polling'] });

    const sent = await ack(a, 'send_message', { chatId, clientMsgId: crypto.randomUUID(), content: 'hello bob', encrypted: false });
    assert.equal(sent.ok, true, JSON.stringify(sent));
    assert.equal(sent.message.content, 'hello bob');
    assert.equal(sent.message.senderId, alice.sub);

    const received = await next(b, 'new_message');
    assert.deepEqual(received, sent.message);

    const delivered = await ack(b, 'delivered', { chatId, messageId: received.id });
    assert.equal(delivered.ok, true);
    assert.deepEqual(await next(a, 'message_delivered'), { chatId, messageId: received.id, userId: bob.sub });

    const read = await ack(b, 'read_receipt', { chatId, messageId: received.id });
    assert.equal(read.ok, true);
    assert.deepEqual(await next(a, 'message_read'), { chatId, messageId: received.id, userId: bob.sub });

    const history = await rest(server.url, auth.mint(bob), 'GET', `/api/chats/${chatId}/messages?limit=10`);
    assert.equal(history.status, 200);
    assert.equal(history.body.messages.length, 1);
    assert.deepEqual(history.body.messages[0].readBy, [bob.sub]);

    const again = await ack(a, 'send_message', { chatId, clientMsgId: sent.message.clientMsgId, content: 'hello bob', encrypted: false });
    assert.equal(again.message.id, sent.message.id, 'a resend returns the original');
  });

  test('a non-member is refused with not_a_member', async () => {
    const [alice, bob, eve] = [user(), user(), user()];
    const { body: chat } = await rest(server.url, auth.mint(alice), 'POST', '/api/chats', { type: 'direct', userId: bob.sub });
    const e = await open(eve);
    const res = await ack(e, 'send_message', { chatId: chat.id, clientMsgId: crypto.randomUUID(), content: 'hi', encrypted: false });
    assert.deepEqual(res.ok, false);
    assert.equal(res.error.code, 'not_a_member');
  });

  test('bad tokens and foreign origins are refused at connect', async () => {
    const u = user();
    await assert.rejects(connect(server.url, 'not-a-token'), { message: 'unauthorized' });
    await assert.rejects(connect(server.url, undefined), { message: 'unauthorized' });
    await assert.rejects(connect(server.url, auth.mint(u, { expiresIn: -3600 })), { message: 'unauthorized' });
    await assert.rejects(connect(server.url, auth.mint(u, { aud: 'elsewhere' })), { message: 'unauthorized' });
    await assert.rejects(connect(server.url, auth.mint(u), { origin: 'http://evil.example' }), { message: 'origin_not_allowed' });
    const ok = await connect(server.url, auth.mint(u), { origin: 'http://localhost:3000' });
    ok.close();
  });
});
