// The client against real hub processes (CHORUS_BIN, default .build/debug/chorus), with
// Debian's node-ws as the WebSocket implementation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { ChorusClient, ChorusError, subscribeSSE } from '../chorus.js';
import { requirePackage } from '../test-helpers/debian-modules.mjs';
import { mintToken, postJSON, startHub, temporaryDirectory } from '../test-helpers/hub.mjs';
import { NodeEventSource } from '../test-helpers/node-event-source.mjs';
import { nextEvent, recordStates, stateReached } from '../test-helpers/wait.mjs';

const WebSocket = requirePackage('ws');
const SECRET = 'chorus-js-integration-secret-0123456789';
const API_KEY = 'chorus-js-integration-api-key';
/** The `hist` namespace keeps history (`hist:room`, `hist.a`, …). */
const HISTORY = ['--namespaces', JSON.stringify({ hist: { history_size: 100 } })];

let devHub; // development mode: anonymous clients, open HTTP API
let authHub; // JWT tokens and an API key
before(async () => {
  [devHub, authHub] = await Promise.all([startHub(), startHub({ args: ['--jwt-secret', SECRET, '--api-key', API_KEY] })]);
});
after(async () => {
  await Promise.all([devHub?.stop(), authHub?.stop()]);
});

/** Resolves once the hub has answered the client's token with auth_success. */
const authenticated = (client) => (client.session ? Promise.resolve() : nextEvent(client, 'auth'));

function connect(t, url, options = {}) {
  const client = new ChorusClient(url, { WebSocket, heartbeatInterval: 0, backoff: { base: 50, cap: 400 }, requestTimeout: 5000, ...options });
  t.after(() => client.close());
  return client;
}

test('subscribe, publish and ack between two clients', async (t) => {
  const alice = connect(t, devHub.ws);
  const bob = connect(t, devHub.ws);
  const room = alice.channel('chat:it-room');
  assert.equal((await room.subscribe()).topic, 'chat:it-room');
  const received = nextEvent(room, 'msg');
  const ack = await bob.channel('chat:it-room').publish('msg', { text: 'hello' });
  assert.equal(typeof ack.message_id, 'string');
  const [data, message] = await received;
  assert.deepEqual(data, { text: 'hello' });
  assert.equal(message.message_id, ack.message_id);
  assert.equal(message.topic, 'chat:it-room');
  assert.equal(alice.stats.messagesReceived >= 2, true); // subscribed + message
});

test('pattern subscriptions receive matching topics, with `sub` naming the pattern', async (t) => {
  const client = connect(t, devHub.ws);
  const orders = client.channel('it.*.events');
  const everything = client.channel('it.**');
  await Promise.all([orders.subscribe(), everything.subscribe()]);
  const viaOrders = nextEvent(orders, 'created');
  const viaEverything = nextEvent(everything, 'message', { predicate: (message) => message.event === 'created' });
  await postJSON(`${devHub.http}/api/publish`, { topic: 'it.orders.events', event: 'created', data: { id: 7 } });
  const [data, message] = await viaOrders;
  assert.deepEqual(data, { id: 7 });
  assert.equal(message.topic, 'it.orders.events');
  assert.ok(['it.*.events', 'it.**'].includes(message.sub));
  const [same] = await viaEverything;
  assert.equal(same.message_id, message.message_id, 'one copy from the hub reaches both channels');
});

test('error frames reject the request promise with the error code', async (t) => {
  const client = connect(t, devHub.ws);
  await stateReached(client, 'connected');
  await assert.rejects(client.publish('chat.*', 'e', 1), (error) => {
    assert.ok(error instanceof ChorusError);
    assert.equal(error.code, 'bad_request');
    assert.match(error.message, /pattern/);
    return true;
  });
  await assert.rejects(client.channel('not a topic!').subscribe(), { code: 'bad_request' });
  await assert.rejects(client.send({ type: 'chat:typing', topic: 'chat:a' }), { code: 'unknown_type' });
  await assert.rejects(client.publish('chat:big', 'e', 'x'.repeat(70 * 1024)), { code: 'too_large' });
  assert.equal(client.state, 'connected', 'the connection stays open after errors');
  const latency = await client.ping();
  assert.equal(client.stats.latency.last, latency);
});

test('direct messages between users with tokens', async (t) => {
  const alice = connect(t, authHub.ws, { getToken: () => mintToken(SECRET, 'alice', '1h') });
  const bob = connect(t, authHub.ws, { token: await mintToken(SECRET, 'bob', '1h') });
  await Promise.all([authenticated(alice), authenticated(bob)]);
  assert.equal(alice.session.user, 'alice');
  const direct = nextEvent(alice, 'direct');
  const ack = await bob.direct('alice', 'offer', { sdp: 'v=0' });
  const [message] = await direct;
  assert.equal(message.message_id, ack.message_id);
  assert.equal(message.from.user, 'bob');
  assert.equal(message.event, 'offer');
  assert.deepEqual(message.data, { sdp: 'v=0' });
});

test('without a token on a hub that needs one, the client is never connected: it stops with token_required', async (t) => {
  const anonymous = connect(t, authHub.ws);
  const states = recordStates(anonymous);
  const publish = anonymous.publish('chat:a', 'e', 1); // queued while connecting
  await stateReached(anonymous, 'error');
  assert.ok(!states.includes('connected'), `states: ${states}`);
  await assert.rejects(publish, { code: 'token_required', reason: 'token_required' });
});

/** A signed HS256 token with exactly `claims` (the CLI cannot mint one that has expired). */
function signedToken(secret, claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

test('v1.1: the client learns its id from connected; /api/connections shows the same id', async (t) => {
  const client = connect(t, devHub.ws);
  await stateReached(client, 'connected');
  assert.equal(client.session.user, null);
  const { connections } = await (await fetch(`${devHub.http}/api/connections`)).json();
  assert.ok(connections.some((connection) => connection.client === client.session.client), JSON.stringify(connections));
});

test('v1.1: a token expired before connecting is renewed through getToken; the client is never open with it', async (t) => {
  const tokens = [signedToken(SECRET, { sub: 'dave', exp: Math.floor(Date.now() / 1000) - 60 }), await mintToken(SECRET, 'dave', '1h')];
  let issued = 0;
  const client = connect(t, authHub.ws, { getToken: () => tokens[issued++] });
  const states = [];
  client.on('status', (_old, now) => states.push([now, issued]));
  const [refused] = await nextEvent(client, 'disconnect');
  assert.deepEqual([refused.code, refused.reason, refused.reconnect], [4001, 'token_expired', false]);
  await stateReached(client, 'connected');
  assert.equal(client.session.user, 'dave');
  assert.equal(issued, 2);
  assert.ok(!states.some(([state, count]) => state === 'connected' && count < 2), JSON.stringify(states));
});

test('v1.1: an invalid token stops the client without asking for another', async (t) => {
  let issued = 0;
  const client = connect(t, authHub.ws, { getToken: () => (issued++, signedToken('not-the-hub-secret-0123456789', { sub: 'eve' })) });
  const [refused] = await nextEvent(client, 'disconnect');
  assert.deepEqual([refused.code, refused.reason, refused.reconnect], [4001, 'token_invalid', false]);
  await stateReached(client, 'disconnected');
  assert.equal(issued, 1);
});

test('an expiring token is renewed through getToken, and the client comes back subscribed', async (t) => {
  let issued = 0;
  const client = connect(t, authHub.ws, { getToken: () => mintToken(SECRET, 'carol', issued++ === 0 ? '1s' : '1h') });
  const channel = client.channel('chat:it-expiry');
  await channel.subscribe();
  const expired = nextEvent(client, 'disconnect', { timeout: 8000 });
  const renewed = nextEvent(client, 'auth', { predicate: () => issued === 2, timeout: 10000 });
  const [disconnect] = await expired;
  assert.equal(disconnect.code, 4001);
  assert.equal(disconnect.reconnect, true);
  await renewed;
  await stateReached(client, 'connected');
  const resubscribed = channel.state === 'subscribed' ? Promise.resolve() : nextEvent(channel, 'subscribed');
  await resubscribed;
  const delivered = nextEvent(channel, 'after-renewal');
  await postJSON(`${authHub.http}/api/publish`, { topic: 'chat:it-expiry', event: 'after-renewal', data: 1 }, API_KEY);
  await delivered;
  assert.equal(issued, 2);
});

test('the hub disconnecting a user with reconnect:false stops the client; reconnect:true brings it back', async (t) => {
  const stays = connect(t, authHub.ws, { token: await mintToken(SECRET, 'erin', '1h') });
  const leaves = connect(t, authHub.ws, { token: await mintToken(SECRET, 'frank', '1h') });
  await Promise.all([authenticated(stays), authenticated(leaves)]);

  let retries = 0;
  leaves.on('reconnect', () => retries++);
  const closed = nextEvent(leaves, 'close');
  await postJSON(`${authHub.http}/api/users/frank/disconnect`, { reason: 'banned', reconnect: false }, API_KEY);
  const [{ code, disconnect }] = await closed;
  assert.equal(code, 1000);
  // v1.1: the reason for programs, the caller's text for people.
  assert.deepEqual([disconnect.reason, disconnect.message, disconnect.reconnect], ['kicked', 'banned', false]);
  assert.equal(leaves.state, 'disconnected');
  assert.equal(retries, 0);

  const back = nextEvent(stays, 'auth');
  await postJSON(`${authHub.http}/api/users/erin/disconnect`, { reason: 'rebalance', reconnect: true }, API_KEY);
  await back;
  await stateReached(stays, 'connected');
  assert.equal(stays.stats.reconnections, 1);
});

test('hub restart on the same port: reconnecting → connected, resubscribed, offline queue flushed', async (t) => {
  let hub = await startHub();
  const port = hub.port;
  t.after(() => hub.stop());
  const client = connect(t, hub.ws, { backoff: { base: 100, cap: 500 } });
  const room = client.channel('chat:it-restart');
  const pattern = client.channel('it-restart.*');
  await Promise.all([room.subscribe(), pattern.subscribe()]);

  const shutdown = nextEvent(client, 'disconnect');
  const recoveryFailed = nextEvent(room, 'recovery_failed', { timeout: 20000 });
  const queuedDelivery = nextEvent(room, 'while-down', { timeout: 20000 });
  await hub.stop();
  const [frame] = await shutdown;
  assert.deepEqual([frame.code, frame.reconnect], [1001, true]);
  await stateReached(client, 'reconnecting');

  const queued = client.publish('chat:it-restart', 'while-down', { n: 1 });
  assert.equal(client.stats.queued, 1);

  hub = await startHub({ port });
  await stateReached(client, 'connected', 15000);
  assert.equal(typeof (await queued).message_id, 'string');
  assert.deepEqual((await queuedDelivery)[0], { n: 1 });
  // This hub keeps no history across a restart, so the client cannot vouch for the gap.
  await recoveryFailed;

  const live = nextEvent(room, 'after-restart');
  const livePattern = nextEvent(pattern, 'after-restart');
  await postJSON(`${hub.http}/api/publish`, { topic: 'chat:it-restart', event: 'after-restart', data: 2 });
  await postJSON(`${hub.http}/api/publish`, { topic: 'it-restart.x', event: 'after-restart', data: 3 });
  assert.equal((await live)[0], 2);
  assert.equal((await livePattern)[0], 3);
  assert.ok(client.stats.reconnections >= 1);
});

test('heartbeat pings keep a connection past the hub idle timeout; a silent one is closed (1001) and comes back', async (t) => {
  const hub = await startHub({ args: ['--idle-timeout', '1s'] });
  t.after(() => hub.stop());
  const beating = connect(t, hub.ws, { heartbeatInterval: 200 });
  const silent = connect(t, hub.ws); // heartbeatInterval 0: sends nothing by itself
  let beatingCloses = 0;
  beating.on('close', () => beatingCloses++);
  for (let round = 1; round <= 2; round++) {
    const [frame] = await nextEvent(silent, 'disconnect', { timeout: 6000 });
    assert.deepEqual([frame.code, frame.reason, frame.message, frame.reconnect], [1001, 'idle_timeout', 'idle timeout', true]);
    await nextEvent(silent, 'status', { predicate: (_old, now) => now === 'connected' });
  }
  // Two idle timeouts have passed for the silent client; the beating one never went idle.
  assert.equal(beatingCloses, 0);
  assert.equal(beating.state, 'connected');
  assert.ok(beating.stats.latency.average >= 0);
  assert.equal(silent.stats.reconnections, 2);
});

test('history: after close() and connect(), missed messages are replayed (recovered:true), in order, without duplicates', async (t) => {
  const hub = await startHub({ args: [...HISTORY, '--store', 'memory'] });
  t.after(() => hub.stop());
  const client = connect(t, hub.ws);
  const room = client.channel('hist:room');
  const feed = client.channel('hist.*');
  assert.equal((await room.subscribe()).offset, 0, 'a history topic reports its newest offset');
  await feed.subscribe();
  const roomOffsets = [];
  const feedSeen = [];
  room.on('message', (message) => roomOffsets.push(message.offset));
  feed.on('message', (message) => feedSeen.push(`${message.topic}#${message.offset}`));
  const live = [nextEvent(room, 'message'), nextEvent(feed, 'message')];
  const ack = await client.publish('hist:room', 'msg', 1);
  await client.publish('hist.a', 'msg', 'a1');
  await Promise.all(live);
  assert.deepEqual(room.position(), { offset: 1, epoch: ack.epoch });

  client.close();
  for (const [topic, data] of [['hist:room', 2], ['hist:room', 3], ['hist.b', 'b1'], ['hist.a', 'a2']]) {
    await postJSON(`${hub.http}/api/publish`, { topic, event: 'msg', data });
  }
  let failures = 0;
  room.on('recovery_failed', () => failures++);
  feed.on('recovery_failed', () => failures++);
  const roomBack = nextEvent(room, 'subscribed');
  const feedBack = nextEvent(feed, 'subscribed');
  const roomReplayed = nextEvent(room, 'message', { predicate: (message) => message.offset === 3 });
  const feedReplayed = nextEvent(feed, 'message', { predicate: (message) => message.topic === 'hist.a' && message.offset === 2 });
  client.connect();
  assert.equal((await roomBack)[0].recovered, true);
  assert.equal((await feedBack)[0].recovered, true);
  await Promise.all([roomReplayed, feedReplayed]);
  assert.deepEqual(roomOffsets, [1, 2, 3]);
  assert.deepEqual(feedSeen, ['hist.a#1', 'hist.b#1', 'hist.a#2']);
  assert.equal(failures, 0);
});

for (const [store, recovers] of [['sqlite', true], ['memory', false]]) {
  test(`history across a hub restart, ${store} store: ${recovers ? 'recovered, same epoch' : 'recovery_failed, new epoch'}`, async (t) => {
    const data = temporaryDirectory();
    t.after(() => data.remove());
    const args = [...HISTORY, '--store', store, '--data-dir', data.path];
    let hub = await startHub({ args });
    const port = hub.port;
    t.after(() => hub.stop());
    const client = connect(t, hub.ws, { backoff: { base: 100, cap: 500 } });
    const room = client.channel('hist:restart');
    await room.subscribe();
    const first = nextEvent(room, 'message');
    await client.publish('hist:restart', 'msg', 1);
    await first;
    const before = room.position();
    let failures = 0;
    room.on('recovery_failed', () => failures++);

    await hub.stop();
    await stateReached(client, 'reconnecting');
    const back = nextEvent(room, 'subscribed', { timeout: 15000 });
    hub = await startHub({ port, args });
    const [reply] = await back;
    assert.equal(reply.recovered === true, recovers);
    assert.equal(failures, recovers ? 0 : 1);

    const next = nextEvent(room, 'message');
    await postJSON(`${hub.http}/api/publish`, { topic: 'hist:restart', event: 'msg', data: 2 });
    const [message] = await next;
    if (recovers) {
      assert.deepEqual([message.offset, message.epoch], [2, before.epoch]);
    } else {
      assert.notEqual(message.epoch, before.epoch);
      assert.equal(message.offset, 1);
    }
  });
}

test('SSE transport: named events and their JSON data from a real hub', async (t) => {
  const transport = subscribeSSE(`${devHub.http}/sse`, ['sse-it.*'], {}, { EventSource: NodeEventSource });
  t.after(() => transport.close());
  await nextEvent(transport, 'status', { predicate: (_old, now) => now === 'open' });
  const price = nextEvent(transport, 'price');
  await postJSON(`${devHub.http}/api/publish`, { topic: 'sse-it.acme', event: 'price', data: { v: 1 } });
  const [data, frame] = await price;
  assert.deepEqual(data, { v: 1 });
  assert.equal(frame.topic, 'sse-it.acme');
  assert.equal(transport.lastEventId, frame.message_id);
});

test('binary messages: a Uint8Array arrives byte for byte over binary frames, base64 JSON and SSE', async (t) => {
  const binary = connect(t, devHub.ws, { binary: true });
  const plain = connect(t, devHub.ws);
  const transport = subscribeSSE(`${devHub.http}/sse`, ['bin-it.room'], {}, { EventSource: NodeEventSource });
  t.after(() => transport.close());
  await nextEvent(transport, 'status', { predicate: (_old, now) => now === 'open' });
  const channels = [binary.channel('bin-it.room'), plain.channel('bin-it.room')];
  for (const channel of channels) await channel.subscribe();
  const received = [...channels.map((channel) => nextEvent(channel, 'blob')), nextEvent(transport, 'blob')];
  const payload = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
  const ack = await connect(t, devHub.ws).publish('bin-it.room', 'blob', payload);
  for (const [data, message] of await Promise.all(received)) {
    assert.ok(data instanceof Uint8Array);
    assert.deepEqual(data, payload);
    assert.equal(message.message_id, ack.message_id);
  }
});

test('SSE transport: event: disconnect with reconnect:false closes the stream', async (t) => {
  const transport = subscribeSSE(`${authHub.http}/sse`, 'sse-it.private', {}, {
    EventSource: NodeEventSource,
    token: await mintToken(SECRET, 'dave', '1h'),
  });
  t.after(() => transport.close());
  await nextEvent(transport, 'status', { predicate: (_old, now) => now === 'open' });
  const disconnected = nextEvent(transport, 'disconnect');
  await postJSON(`${authHub.http}/api/users/dave/disconnect`, { reason: 'bye', reconnect: false }, API_KEY);
  const [frame] = await disconnected;
  assert.deepEqual([frame.code, frame.reason, frame.reconnect], [1000, 'bye', false]);
  assert.equal(transport.state, 'closed');
});

test('history: the last messages newest first, then older pages, with the client token', async (t) => {
  const topic = `demo:history-${Date.now()}`;
  for (let n = 1; n <= 5; n++) await postJSON(`${authHub.http}/api/publish`, { topic, data: { n } }, API_KEY);
  const client = connect(t, authHub.ws, { getToken: () => mintToken(SECRET, 'alice', '1h') });
  const last = await client.history(topic, { limit: 3 });
  assert.deepEqual(last.messages.map((message) => message.data.n), [5, 4, 3]);
  assert.equal(last.lastOffset, 5);
  assert.equal(last.nextBefore, 3);
  const older = await client.history(topic, { limit: 3, before: last.nextBefore });
  assert.deepEqual(older.messages.map((message) => message.data.n), [2, 1]);
  assert.equal(older.nextBefore, null);
  const oldestFirst = await client.history(topic, { order: 'asc', since: 3 });
  assert.deepEqual(oldestFirst.messages.map((message) => message.data.n), [4, 5]);
  // Without a credential the hub's answer is a ChorusError with its code.
  const anonymous = new ChorusClient(authHub.ws, { WebSocket, autoConnect: false });
  await assert.rejects(anonymous.history(topic), { code: 'unauthorized' });
});
