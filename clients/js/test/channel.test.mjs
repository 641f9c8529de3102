// Channels on one shared connection: subscription, routing, resubscription and recovery.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ChorusClient } from '../chorus.js';
import { FakeWebSocket, connectedClient } from '../test-helpers/fake-websocket.mjs';
import { nextEvent } from '../test-helpers/wait.mjs';

beforeEach(() => FakeWebSocket.reset());

const connected = (t) => connectedClient(t);

/** Subscribes `name` and confirms it with `reply` fields. */
async function subscribed(client, socket, name, reply = {}) {
  const channel = client.channel(name);
  const confirmed = channel.subscribe();
  await socket.reply('subscribe', { type: 'subscribed', topic: name, ...reply }, name);
  await confirmed;
  return channel;
}

/** Drops the connection and returns the next socket, open. */
async function reconnect(socket) {
  socket.drop(1006);
  const next = await FakeWebSocket.nth(FakeWebSocket.instances.length + 1);
  next.open();
  return next;
}

const message = (topic, event, data, extra = {}) => ({ type: 'message', topic, event, data, message_id: 'x', ts: 1, ...extra });

test('channel(name) returns the same object; subscribe resolves with the subscribed frame', async (t) => {
  const { client, socket } = await connected(t);
  const channel = client.channel('chat:room1');
  assert.equal(client.channel('chat:room1'), channel);
  assert.equal(channel.state, 'unsubscribed');
  const confirmed = channel.subscribe();
  assert.equal(channel.state, 'subscribing');
  const request = await socket.reply('subscribe', { type: 'subscribed', topic: 'chat:room1' });
  assert.deepEqual(request, { type: 'subscribe', topic: 'chat:room1', id: request.id }, 'a first subscribe has no since');
  assert.equal((await confirmed).topic, 'chat:room1');
  assert.equal(channel.state, 'subscribed');
  assert.equal((await channel.subscribe()).topic, 'chat:room1', 'subscribing again resolves at once');
  assert.equal(socket.sent.length, 1);
});

test('subscribe while connecting waits for the connection, then is sent', async (t) => {
  const client = new ChorusClient('ws://hub.test/ws', { WebSocket: FakeWebSocket, heartbeatInterval: 0 });
  t.after(() => client.close());
  const confirmed = client.channel('chat:a').subscribe();
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  await socket.reply('subscribe', { type: 'subscribed', topic: 'chat:a' });
  assert.equal((await confirmed).type, 'subscribed');
});

test('messages reach listeners of their event name (data, message) and of "message"', async (t) => {
  const { client, socket } = await connected(t);
  const channel = await subscribed(client, socket, 'chat:room1');
  const typed = [];
  const all = [];
  channel.on('typing', (data, frame) => typed.push([data, frame.topic]));
  channel.on('message', (frame) => all.push(frame.event));
  socket.receive(message('chat:room1', 'typing', { user: 'bob' }));
  socket.receive(message('chat:room1', 'msg', { text: 'hi' }));
  socket.receive(message('chat:other', 'typing', { user: 'eve' }));
  assert.deepEqual(typed, [[{ user: 'bob' }, 'chat:room1']]);
  assert.deepEqual(all, ['typing', 'msg']);
});

test('a message named like a channel event (subscribed) only reaches "message" listeners', async (t) => {
  const { client, socket } = await connected(t);
  const channel = await subscribed(client, socket, 'chat:a');
  let lifecycle = 0;
  const all = [];
  channel.on('subscribed', () => lifecycle++);
  channel.on('message', (frame) => all.push(frame.event));
  socket.receive(message('chat:a', 'subscribed', 1));
  assert.equal(lifecycle, 0);
  assert.deepEqual(all, ['subscribed']);
});

test('pattern channels get matching topics; a message matching several channels reaches each once', async (t) => {
  const { client, socket } = await connected(t);
  const exact = await subscribed(client, socket, 'messages.user.42');
  const pattern = await subscribed(client, socket, 'messages.user.*');
  const deep = await subscribed(client, socket, 'messages.**');
  const seen = { exact: [], pattern: [], deep: [] };
  exact.on('message', (frame) => seen.exact.push(frame.topic));
  pattern.on('message', (frame) => seen.pattern.push(frame.topic));
  deep.on('message', (frame) => seen.deep.push(frame.topic));
  // The hub sends one copy per connection, without `sub` when an exact subscription matched.
  socket.receive(message('messages.user.42', 'e', 1));
  socket.receive(message('messages.user.7', 'e', 2, { sub: 'messages.user.*' }));
  socket.receive(message('messages.channel.9.x', 'e', 3, { sub: 'messages.**' }));
  assert.deepEqual(seen, {
    exact: ['messages.user.42'],
    pattern: ['messages.user.42', 'messages.user.7'],
    deep: ['messages.user.42', 'messages.user.7', 'messages.channel.9.x'],
  });
});

test('direct messages are emitted by the client as "direct", not routed to channels', async (t) => {
  const { client, socket } = await connected(t);
  const everything = await subscribed(client, socket, '*');
  let routed = 0;
  everything.on('message', () => routed++);
  const direct = nextEvent(client, 'direct');
  socket.receive(message('direct', 'offer', { sdp: '…' }, { from: { user: 'bob', client: 'c2' } }));
  const [frame] = await direct;
  assert.equal(frame.from.user, 'bob');
  assert.equal(routed, 0);
});

test('publish on a channel publishes to its topic and resolves with the ack', async (t) => {
  const { client, socket } = await connected(t);
  const ack = client.channel('chat:a').publish('msg', { text: 'hi' });
  const request = await socket.reply('publish', { type: 'ack', message_id: 'm1' });
  assert.deepEqual([request.topic, request.event, request.data], ['chat:a', 'msg', { text: 'hi' }]);
  assert.equal((await ack).message_id, 'm1');
});

test('a refused subscribe rejects with the error code and is not retried after a reconnect', async (t) => {
  const { client, socket } = await connected(t);
  const channel = client.channel('bad..topic');
  const refused = channel.subscribe();
  await socket.reply('subscribe', { type: 'error', code: 'bad_request', message: 'invalid topic' });
  await assert.rejects(refused, { code: 'bad_request' });
  assert.equal(channel.state, 'unsubscribed');
  const next = await reconnect(socket);
  await subscribed(client, next, 'chat:probe');
  assert.deepEqual(next.sent.map((frame) => frame.topic), ['chat:probe']);
});

test('a subscribe that gets no reply rejects with timeout and is sent again on the next connection', async (t) => {
  const client = new ChorusClient('ws://hub.test/ws', { WebSocket: FakeWebSocket, heartbeatInterval: 0, requestTimeout: 20, backoff: { base: 2, cap: 8 } });
  t.after(() => client.close());
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  const channel = client.channel('chat:slow');
  await assert.rejects(channel.subscribe(), { code: 'timeout' });
  assert.equal(channel.state, 'subscribing');
  const next = await reconnect(socket);
  const resubscribed = nextEvent(channel, 'subscribed');
  await next.reply('subscribe', { type: 'subscribed', topic: 'chat:slow' });
  await resubscribed;
  assert.equal(channel.state, 'subscribed');
});

test('after a reconnect every channel is resubscribed with since = the last offset and epoch seen', async (t) => {
  const { client, socket } = await connected(t);
  const channel = await subscribed(client, socket, 'chat:a', { offset: 3, epoch: 'e1' });
  await subscribed(client, socket, 'chat:b');
  socket.receive(message('chat:a', 'e', 4, { offset: 4, epoch: 'e1' }));
  socket.receive(message('chat:a', 'e', 5, { offset: 5, epoch: 'e1' }));
  assert.deepEqual(channel.position(), { offset: 5, epoch: 'e1' });

  const next = await reconnect(socket);
  const resubscribeA = await next.frame((frame) => frame.type === 'subscribe' && frame.topic === 'chat:a');
  assert.deepEqual(resubscribeA.since, { offset: 5, epoch: 'e1' });
  const resubscribeB = await next.frame((frame) => frame.type === 'subscribe' && frame.topic === 'chat:b');
  assert.equal(resubscribeB.since, undefined, 'no position known for chat:b');
});

test('recovered:true: replayed messages arrive, duplicates are dropped, no recovery_failed', async (t) => {
  const { client, socket } = await connected(t);
  const channel = await subscribed(client, socket, 'chat:a', { offset: 0, epoch: 'e1' });
  socket.receive(message('chat:a', 'e', 1, { offset: 1, epoch: 'e1' }));
  const received = [];
  let failed = 0;
  channel.on('message', (frame) => received.push(frame.offset));
  channel.on('recovery_failed', () => failed++);
  const next = await reconnect(socket);
  const resubscribed = nextEvent(channel, 'subscribed');
  await next.reply('subscribe', { type: 'subscribed', topic: 'chat:a', offset: 3, epoch: 'e1', recovered: true });
  for (const offset of [1, 2, 3]) next.receive(message('chat:a', 'e', offset, { offset, epoch: 'e1' }));
  await resubscribed;
  assert.deepEqual(received, [2, 3]);
  assert.equal(failed, 0);
  assert.deepEqual(channel.position(), { offset: 3, epoch: 'e1' });
});

test('recovered:false emits recovery_failed, and the position restarts from the hub\'s', async (t) => {
  const { client, socket } = await connected(t);
  const channel = await subscribed(client, socket, 'chat:a', { offset: 7, epoch: 'e1' });
  const next = await reconnect(socket);
  const failure = nextEvent(channel, 'recovery_failed');
  const request = await next.reply('subscribe', { type: 'subscribed', topic: 'chat:a', offset: 2, epoch: 'e2', recovered: false });
  assert.deepEqual(request.since, { offset: 7, epoch: 'e1' });
  const [{ topic, reply }] = await failure;
  assert.equal(topic, 'chat:a');
  assert.equal(reply.recovered, false);
  assert.deepEqual(channel.position(), { offset: 2, epoch: 'e2' });
});

test('a resubscription the hub does not confirm as recovered (no history: no since, no recovered) emits recovery_failed', async (t) => {
  const { client, socket } = await connected(t);
  const channel = await subscribed(client, socket, 'chat:a');
  const next = await reconnect(socket);
  const failure = nextEvent(channel, 'recovery_failed');
  const request = await next.reply('subscribe', { type: 'subscribed', topic: 'chat:a' });
  assert.equal(request.since, undefined);
  await failure;
  assert.equal(channel.state, 'subscribed');
});

test('a pattern channel resumes by time: since {ts} of the newest message seen', async (t) => {
  const { client, socket } = await connected(t);
  await subscribed(client, socket, 'chat.*');
  socket.receive(message('chat.a', 'e', 1, { ts: 1000, offset: 1, epoch: 'e' }));
  socket.receive(message('chat.b', 'e', 2, { ts: 2000, offset: 1, epoch: 'e' }));
  const next = await reconnect(socket);
  const request = await next.frame((frame) => frame.type === 'subscribe');
  assert.deepEqual(request.since, { ts: 2000 });
});

test('unsubscribe: sends unsubscribe, stops delivery, and is not resubscribed after a reconnect', async (t) => {
  const { client, socket } = await connected(t);
  const channel = await subscribed(client, socket, 'chat:a');
  let delivered = 0;
  channel.on('message', () => delivered++);
  const done = channel.unsubscribe();
  await socket.reply('unsubscribe', { type: 'unsubscribed', topic: 'chat:a' });
  await done;
  assert.equal(channel.state, 'unsubscribed');
  socket.receive(message('chat:a', 'e', 1));
  assert.equal(delivered, 0);
  const next = await reconnect(socket);
  await subscribed(client, next, 'chat:probe');
  assert.deepEqual(next.sent.map((frame) => frame.topic), ['chat:probe']);
});

test('a throwing channel listener does not stop the others', async (t) => {
  const { client, socket } = await connected(t);
  const channel = await subscribed(client, socket, 'chat:a');
  const errors = [];
  const seen = [];
  channel.on('error', (error) => errors.push(error.message));
  channel.on('msg', () => {
    throw new Error('listener bug');
  });
  channel.on('msg', (data) => seen.push(data));
  socket.receive(message('chat:a', 'msg', 'hello'));
  assert.deepEqual(seen, ['hello']);
  assert.deepEqual(errors, ['listener bug']);
});
