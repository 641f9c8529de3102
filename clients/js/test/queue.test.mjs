// The offline queue: publishes made while not connected, bounded, flushed in order.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ChorusClient, OfflineQueue } from '../chorus.js';
import { FakeWebSocket } from '../test-helpers/fake-websocket.mjs';
import { stateReached } from '../test-helpers/wait.mjs';

beforeEach(() => FakeWebSocket.reset());

function makeClient(t, offlineQueue) {
  const client = new ChorusClient('ws://hub.test/ws', {
    WebSocket: FakeWebSocket,
    heartbeatInterval: 0,
    backoff: { base: 2, cap: 8 },
    offlineQueue,
  });
  t.after(() => client.close());
  return client;
}

/** Acks every publish the socket received, in order; returns their payloads. */
async function ackPublishes(socket, count) {
  const published = [];
  for (let i = 0; i < count; i++) {
    const frame = await socket.frame((f) => f.type === 'publish' && !published.includes(f));
    published.push(frame);
    socket.receive({ type: 'ack', id: frame.id, message_id: `m${frame.data}` });
  }
  return published.map((frame) => frame.data);
}

test("OfflineQueue 'reject': when full the new item is turned away and the queue keeps its order", () => {
  const queue = new OfflineQueue({ limit: 2, policy: 'reject' });
  assert.equal(queue.push('a'), undefined);
  assert.equal(queue.push('b'), undefined);
  assert.equal(queue.push('c'), 'c');
  assert.equal(queue.size, 2);
  assert.deepEqual(queue.drain(), ['a', 'b']);
  assert.equal(queue.size, 0);
});

test("OfflineQueue 'drop-oldest': when full the oldest item makes room", () => {
  const queue = new OfflineQueue({ limit: 2, policy: 'drop-oldest' });
  queue.push('a');
  queue.push('b');
  assert.equal(queue.push('c'), 'a');
  assert.equal(queue.push('d'), 'b');
  assert.deepEqual(queue.drain(), ['c', 'd']);
});

test('OfflineQueue: limit 0 queues nothing; an unknown policy is refused', () => {
  assert.equal(new OfflineQueue({ limit: 0, policy: 'drop-oldest' }).push('a'), 'a');
  assert.throws(() => new OfflineQueue({ policy: 'fifo' }), TypeError);
});

test('publishes made while connecting are flushed in order on connect, after the subscriptions', async (t) => {
  const client = makeClient(t);
  const subscription = client.channel('chat:a').subscribe();
  const acks = [1, 2, 3].map((n) => client.publish('chat:a', 'e', n));
  assert.equal(client.stats.queued, 3);
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  assert.equal(client.stats.queued, 0);
  assert.deepEqual(socket.sent.map((frame) => [frame.type, frame.data]), [
    ['subscribe', undefined],
    ['publish', 1],
    ['publish', 2],
    ['publish', 3],
  ]);
  assert.deepEqual(await ackPublishes(socket, 3), [1, 2, 3]);
  assert.deepEqual((await Promise.all(acks)).map((ack) => ack.message_id), ['m1', 'm2', 'm3']);
  await socket.reply('subscribe', { type: 'subscribed', topic: 'chat:a' });
  await subscription;
});

test('a publish made by a status listener on connect goes after the queued ones', async (t) => {
  const client = makeClient(t);
  const acks = [client.publish('chat:a', 'e', 1)];
  client.on('status', (_old, now) => now === 'connected' && acks.push(client.publish('chat:a', 'e', 2)));
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  assert.deepEqual(await ackPublishes(socket, 2), [1, 2]);
  await Promise.all(acks);
});

test("policy 'reject': a publish beyond the limit rejects with queue_full; the rest are flushed", async (t) => {
  const client = makeClient(t, { limit: 2, policy: 'reject' });
  const first = client.publish('chat:a', 'e', 1);
  const second = client.publish('chat:a', 'e', 2);
  await assert.rejects(client.publish('chat:a', 'e', 3), { code: 'queue_full' });
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  assert.deepEqual(await ackPublishes(socket, 2), [1, 2]);
  await Promise.all([first, second]);
  assert.equal(socket.sent.length, 2);
});

test("policy 'drop-oldest': the oldest publish rejects with queue_dropped; the newest are flushed in order", async (t) => {
  const client = makeClient(t, { limit: 2, policy: 'drop-oldest' });
  const first = client.publish('chat:a', 'e', 1);
  const kept = [client.publish('chat:a', 'e', 2), client.publish('chat:a', 'e', 3)];
  await assert.rejects(first, { code: 'queue_dropped' });
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  assert.deepEqual(await ackPublishes(socket, 2), [2, 3]);
  await Promise.all(kept);
  assert.equal(socket.sent.length, 2);
});

test('publishes made while reconnecting are sent on the new connection after resubscribing', async (t) => {
  const client = makeClient(t);
  const first = await FakeWebSocket.nth(1);
  first.open();
  client.channel('chat:a').subscribe();
  await first.reply('subscribe', { type: 'subscribed', topic: 'chat:a' });
  first.drop(1006);
  assert.equal(client.state, 'reconnecting');
  const queued = client.publish('chat:a', 'e', 'while away');
  assert.equal(client.stats.queued, 1);
  const second = await FakeWebSocket.nth(2);
  second.open();
  await stateReached(client, 'connected');
  assert.deepEqual(second.sent.map((frame) => frame.type), ['subscribe', 'publish']);
  await ackPublishes(second, 1);
  assert.equal((await queued).message_id, 'mwhile away');
});

test('when the client stops for good, queued publishes reject with the reason', async (t) => {
  const client = makeClient(t);
  const queued = client.publish('chat:a', 'e', 1);
  const socket = await FakeWebSocket.nth(1);
  socket.drop(1002); // a protocol error is final
  await assert.rejects(queued, { code: 'disconnected' });
});

test('each queued publish gets an idempotency_key of its own; one the caller gave is kept', async (t) => {
  const client = makeClient(t);
  const acks = [client.publish('chat:a', 'e', 1), client.publish('chat:a', 'e', 2, { idempotencyKey: 'mine' })];
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  await ackPublishes(socket, 2);
  await Promise.all(acks);
  const [first, second] = socket.sent.filter((f) => f.type === 'publish');
  assert.equal(typeof first.idempotency_key, 'string');
  assert.ok(first.idempotency_key.length >= 16 && first.idempotency_key.length <= 128);
  assert.equal(second.idempotency_key, 'mine');
  await stateReached(client, 'connected');
  const live = client.publish('chat:a', 'e', 3);
  await ackPublishes(socket, 3);
  await live;
  assert.equal(socket.sent.filter((f) => f.type === 'publish')[2].idempotency_key, undefined);
});
