// The benchmark baseline: the Node.js + Socket.IO server Batiyoun's realtime service replaces,
// reduced to the contract the benchmarks drive and written the way the Socket.IO, jose and
// MongoDB driver docs show (https://socket.io/docs/v4/middlewares/, /docs/v4/redis-adapter/,
// https://github.com/panva/jose, https://www.mongodb.com/docs/drivers/node/current/):
//
// - access tokens (EdDSA JWT, `typ: at+jwt`) verified at connect against a remote JWKS;
// - every socket joins `user:{userId}`;
// - `send_message {chatId, clientMsgId, content, encrypted}`: membership from `chats`, ONE awaited
//   `insertOne` per message (idempotent through a unique index on {senderId, clientMsgId}), then
//   `new_message` to every participant's room except the sending socket, then the ack;
// - `@socket.io/redis-adapter` when REDIS_URL is set (several nodes);
// - `POST /api/chats` ({type:'group', name, memberIds} | {type:'direct', userId}) with Bearer auth.
//
// Environment: PORT, HOST, AUTH_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE, MONGODB_URL, MONGODB_DB,
// MONGODB_WRITE_CONCERN (same default as ours: majority, journaled), REDIS_URL, REDIS_PREFIX.
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';

import express from 'express';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { MongoClient, ObjectId } from 'mongodb';

const env = process.env;
const PORT = Number(env.PORT ?? 4000);
const HOST = env.HOST ?? '127.0.0.1';
const ISSUER = env.JWT_ISSUER ?? 'batiyoun-auth';
const AUDIENCE = env.JWT_AUDIENCE ?? 'batiyoun';
const JWKS = createRemoteJWKSet(new URL(env.AUTH_JWKS_URL ?? 'http://127.0.0.1:3001/.well-known/jwks.json'));
const wc = env.MONGODB_WRITE_CONCERN ?? 'majority';
const writeConcern = { w: /^\d+$/.test(wc) ? Number(wc) : wc, journal: true };

const mongo = new MongoClient(env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017');
await mongo.connect();
const db = mongo.db(env.MONGODB_DB ?? 'batiyoun');
const chats = db.collection('chats');
const messages = db.collection('messages', { writeConcern });
await messages.createIndex({ senderId: 1, clientMsgId: 1 }, { unique: true });
await messages.createIndex({ chatId: 1, timestamp: -1 });
await chats.createIndex({ participants: 1 });

async function verifyAccess(token) {
  const { payload } = await jwtVerify(token, JWKS, {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ['EdDSA'],
    typ: 'at+jwt',
  });
  if (payload.typ !== 'access' || typeof payload.sub !== 'string') throw new Error('not an access token');
  return payload;
}

const OBJECT_ID = /^[0-9a-f]{24}$/i;
const CLIENT_MSG_ID = /^[A-Za-z0-9_-]{1,64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const toMessage = (d) => ({
  id: d._id.toHexString(),
  chatId: d.chatId,
  senderId: d.senderId,
  clientMsgId: d.clientMsgId,
  content: d.content,
  encrypted: d.encrypted,
  type: d.type,
  timestamp: d.timestamp,
  readBy: d.readBy,
  deliveredTo: d.deliveredTo,
});
const toChat = (c) => ({
  id: c._id.toHexString(),
  type: c.type,
  name: c.name ?? null,
  participants: c.participants,
  admins: c.admins,
  createdAt: c.createdAt,
});
const fail = (code, message) => ({ ok: false, error: { code, message } });

// --- REST -------------------------------------------------------------------------------------
const app = express();
app.use(express.json({ limit: '64kb' }));

async function bearer(req, res, next) {
  const m = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
  try {
    if (!m) throw new Error('no token');
    req.user = await verifyAccess(m[1]);
    next();
  } catch {
    res.status(401).json({ error: { code: 'unauthorized', message: 'invalid token' } });
  }
}

app.get('/healthz', (_req, res) => res.json({ ok: true }));

app.post('/api/chats', bearer, async (req, res, next) => {
  try {
    const me = req.user.sub;
    const body = req.body ?? {};
    if (body.type === 'direct' && UUID.test(body.userId ?? '')) {
      // Same derivation as ours: the id is a hash of the sorted pair, so creation is idempotent.
      const pair = [me, body.userId].sort();
      const _id = new ObjectId(createHash('sha256').update(pair.join(':')).digest().subarray(0, 12));
      const existing = await chats.findOne({ _id });
      if (existing) return res.status(200).json(toChat(existing));
      const chat = { _id, type: 'direct', participants: pair, admins: [], createdAt: new Date() };
      await chats.insertOne(chat);
      return res.status(201).json(toChat(chat));
    }
    const members = body.memberIds ?? [];
    if (body.type !== 'group' || typeof body.name !== 'string' || !body.name.trim()
      || !Array.isArray(members) || members.length >= 1000 || !members.every((u) => UUID.test(u))) {
      return res.status(400).json({ error: { code: 'validation_failed', message: 'bad chat request' } });
    }
    const chat = {
      _id: new ObjectId(),
      type: 'group',
      name: body.name.trim(),
      participants: [...new Set([me, ...members])],
      admins: [me],
      createdAt: new Date(),
    };
    await chats.insertOne(chat);
    io.to(chat.participants.map((p) => `user:${p}`)).emit('chat_updated', { chat: toChat(chat), removed: false });
    res.status(201).json(toChat(chat));
  } catch (e) {
    next(e);
  }
});

// --- Socket.IO --------------------------------------------------------------------------------
const httpServer = createServer(app);
const io = new Server(httpServer, { maxHttpBufferSize: 64 * 1024 });

if (env.REDIS_URL) {
  const pubClient = createClient({ url: env.REDIS_URL });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient, { key: `${env.REDIS_PREFIX ?? ''}socket.io` }));
}

io.use(async (socket, next) => {
  try {
    const claims = await verifyAccess(socket.handshake.auth?.token ?? '');
    socket.data.userId = claims.sub;
    socket.data.sid = claims.sid;
    next();
  } catch {
    next(new Error('unauthorized'));
  }
});

io.on('connection', (socket) => {
  const userId = socket.data.userId;
  socket.join(`user:${userId}`);

  socket.on('send_message', async (data, ack) => {
    if (typeof ack !== 'function') return;
    try {
      const { chatId, clientMsgId, content, encrypted = false } = data ?? {};
      if (!OBJECT_ID.test(chatId ?? '') || !CLIENT_MSG_ID.test(clientMsgId ?? '')
        || typeof content !== 'string' || !content.trim() || content.length > 5000) {
        return ack(fail('validation_failed', 'invalid message'));
      }
      const chat = await chats.findOne(
        { _id: new ObjectId(chatId), participants: { $in: [userId] } },
        { projection: { participants: 1 } },
      );
      if (!chat) return ack(fail('not_a_member', 'not a member of this chat'));
      const doc = {
        chatId,
        senderId: userId,
        clientMsgId,
        content,
        encrypted: Boolean(encrypted),
        type: 'text',
        timestamp: new Date(),
        readBy: [],
        deliveredTo: [],
      };
      let stored;
      try {
        await messages.insertOne(doc);
        stored = doc;
      } catch (e) {
        if (e?.code !== 11000) throw e;
        stored = await messages.findOne({ senderId: userId, clientMsgId });
        if (stored.chatId !== chatId) return ack(fail('conflict', 'clientMsgId already used for another chat'));
      }
      const message = toMessage(stored);
      socket.to(chat.participants.map((p) => `user:${p}`)).emit('new_message', message);
      ack({ ok: true, message });
    } catch (e) {
      console.error('send_message failed', e);
      ack(fail('unavailable', 'try again'));
    }
  });
});

httpServer.listen(PORT, HOST, () => {
  const { address, port } = httpServer.address();
  console.log(`listening on http://${address}:${port}`);
});

const stop = () => {
  io.close();
  mongo.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
