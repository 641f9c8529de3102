// The client's state machine, against a scripted WebSocket (test-helpers/fake-websocket.mjs).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChorusClient, SUBPROTOCOL, closePolicy, getClient } from '../chorus.js';
import { FakeWebSocket } from '../test-helpers/fake-websocket.mjs';
import { nextEvent, recordStates, stateReached } from '../test-helpers/wait.mjs';

const URL = 'ws://hub.test/ws';

function makeClient(t, options = {}) {
  const client = new ChorusClient(URL, {
    WebSocket: FakeWebSocket,
    heartbeatInterval: 0,
    backoff: { base: 2, cap: 8 },
    requestTimeout: 500, // replies here are immediate; also bounds a timer armed before a clock mock
    ...options,
  });
  t.after(() => client.close());
  return client;
}

/** A connected client and its socket. */
async function connected(t, options) {
  const client = makeClient(t, options);
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  return { client, socket };
}

/**
 * Mocks the clock from now on; the returned check runs every timer and asserts that none of
 * them opened a connection, which proves that no reconnection was scheduled in between.
 */
function watchReconnections(t) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sockets = FakeWebSocket.instances.length;
  return async function assertNoReconnection() {
    t.mock.timers.runAll();
    await new Promise((resolve) => setImmediate(resolve)); // let an attempt reach `new WebSocket`
    assert.equal(FakeWebSocket.instances.length, sockets, 'no new connection attempt');
  };
}

beforeEach(() => FakeWebSocket.reset());

test('connect: connecting → connected, with status events carrying (old, new)', async (t) => {
  const client = makeClient(t, { autoConnect: false });
  const changes = [];
  client.on('status', (old, now) => changes.push([old, now]));
  assert.equal(client.state, 'disconnected');
  client.connect();
  assert.equal(client.state, 'connecting');
  const socket = await FakeWebSocket.nth(1);
  assert.equal(socket.url, URL);
  const opened = nextEvent(client, 'open');
  socket.open();
  await opened;
  assert.equal(client.state, 'connected');
  assert.deepEqual(changes, [['disconnected', 'connecting'], ['connecting', 'connected']]);
});

test('an http(s) URL is turned into ws(s), and a token goes into ?token=', async (t) => {
  makeClient(t, { token: 'abc.def' });
  const socket = await FakeWebSocket.nth(1);
  assert.equal(new globalThis.URL(socket.url).protocol, 'ws:');
  assert.equal(socket.searchParams.get('token'), 'abc.def');
  const client = new ChorusClient('https://hub.test/ws', { WebSocket: FakeWebSocket, heartbeatInterval: 0 });
  t.after(() => client.close());
  assert.equal(new globalThis.URL((await FakeWebSocket.nth(2)).url).protocol, 'wss:');
});

test('close 1006 → reconnecting → connected, counted in stats.reconnections', async (t) => {
  const { client, socket } = await connected(t);
  const states = recordStates(client);
  const scheduled = nextEvent(client, 'reconnect');
  socket.drop(1006);
  assert.equal(client.state, 'reconnecting');
  const [{ attempt, delay }] = await scheduled;
  assert.equal(attempt, 1);
  assert.ok(delay >= 0 && delay < 2, `first delay ${delay} within [0, base)`);
  const second = await FakeWebSocket.nth(2);
  second.open();
  await stateReached(client, 'connected');
  assert.deepEqual(states, ['reconnecting', 'connected']);
  assert.equal(client.stats.reconnections, 1);
});

test('a hub that cannot be reached is retried with growing delays', async (t) => {
  const client = makeClient(t, { backoff: { base: 1, cap: 1000, random: () => 0.999 } });
  const delays = [];
  client.on('reconnect', ({ delay }) => delays.push(delay));
  for (let n = 1; n <= 4; n++) (await FakeWebSocket.nth(n)).drop(1006);
  await FakeWebSocket.nth(5);
  assert.deepEqual(delays, [0, 1, 3, 7]); // floor(0.999 * 1, 2, 4, 8)
  assert.equal(client.state, 'reconnecting');
});

test("a cluster's URLs are tried in turn: each failed or lost connection moves to the next, wrapping around", async (t) => {
  const urls = ['ws://a.test/ws', 'ws://b.test/ws', 'ws://c.test/ws'];
  const client = new ChorusClient(urls, { WebSocket: FakeWebSocket, heartbeatInterval: 0, backoff: { base: 1, cap: 1 } });
  t.after(() => client.close());
  assert.deepEqual(client.urls, urls);
  const announced = [];
  client.on('reconnect', ({ url }) => announced.push(url));
  const hosts = [];
  for (let n = 1; n <= 4; n++) {
    const socket = await FakeWebSocket.nth(n);
    hosts.push(new globalThis.URL(socket.url).host);
    if (n === 2) {
      socket.open(); // b answers, then is lost: the next attempt goes to c
      await stateReached(client, 'connected');
      assert.equal(client.url, 'ws://b.test/ws');
    }
    socket.drop(1006);
  }
  assert.deepEqual(hosts, ['a.test', 'b.test', 'c.test', 'a.test']);
  assert.deepEqual(announced.slice(0, 4), ['ws://b.test/ws', 'ws://c.test/ws', 'ws://a.test/ws', 'ws://b.test/ws']);
  assert.throws(() => new ChorusClient([], { WebSocket: FakeWebSocket }), /no hub URL/);
});

test('a disconnect frame with reconnect:false ends in disconnected, with no retry', async (t) => {
  const { client, socket } = await connected(t);
  let retries = 0;
  client.on('reconnect', () => retries++);
  const closed = nextEvent(client, 'close');
  const assertNoReconnection = watchReconnections(t);
  socket.disconnect(1000, 'disconnected by the operator', false);
  const [{ code, disconnect }] = await closed;
  assert.equal(code, 1000);
  assert.equal(disconnect.reason, 'disconnected by the operator');
  assert.equal(client.state, 'disconnected');
  assert.equal(retries, 0);
  await assertNoReconnection();
  await assert.rejects(client.publish('a', 'e', 1), { code: 'disconnected' });
});

for (const code of [1000, 1002, 1007, 1009]) {
  test(`close ${code} without a disconnect frame ends in disconnected, with no retry`, async (t) => {
    const { client, socket } = await connected(t);
    const assertNoReconnection = watchReconnections(t);
    socket.drop(code);
    assert.equal(client.state, 'disconnected');
    await assertNoReconnection();
  });
}

for (const [code, label] of [[1001, 'hub shutting down'], [4008, 'slow consumer'], [1011, 'internal']]) {
  test(`close ${code} (${label}) reconnects`, async (t) => {
    const { client, socket } = await connected(t);
    socket.drop(code);
    assert.equal(client.state, 'reconnecting');
    (await FakeWebSocket.nth(2)).open();
    await stateReached(client, 'connected');
  });
}

test("a disconnect frame's reconnect:true wins over close code 1000", async (t) => {
  const { client, socket } = await connected(t);
  socket.disconnect(1000, 'rebalancing', true);
  assert.equal(client.state, 'reconnecting');
  await FakeWebSocket.nth(2);
});

test('4001 "token expired" with reconnect:true: getToken is asked for a fresh token, then the client reconnects with it', async (t) => {
  const tokens = ['first-token', 'second-token'];
  let calls = 0;
  const { client, socket } = await connected(t, { getToken: async () => tokens[calls++] });
  assert.equal(socket.searchParams.get('token'), 'first-token');
  socket.disconnect(4001, 'token expired', true);
  const second = await FakeWebSocket.nth(2);
  assert.equal(second.searchParams.get('token'), 'second-token');
  assert.equal(calls, 2);
  second.open();
  await stateReached(client, 'connected');
});

test('an expired token at connect (reason token_expired, 4001 reconnect:false) is refreshed too, and the client is never open', async (t) => {
  const tokens = ['stale-token', 'fresh-token'];
  let calls = 0;
  const client = makeClient(t, { getToken: () => tokens[calls++] });
  const states = recordStates(client);
  const errors = [];
  client.on('error', (error) => errors.push([error.code, error.reason]));
  const socket = await FakeWebSocket.nth(1);
  socket.open({ connected: null });
  socket.receive({ type: 'error', code: 'unauthorized', reason: 'token_expired', message: 'token rejected: expired' });
  socket.receive({ type: 'disconnect', code: 4001, reason: 'token_expired', message: 'token rejected: expired', reconnect: false });
  socket.drop(4001, 'token rejected: expired');
  assert.deepEqual(errors, [['unauthorized', 'token_expired']]);
  const second = await FakeWebSocket.nth(2);
  assert.equal(second.searchParams.get('token'), 'fresh-token');
  assert.ok(!states.includes('connected'), `states ${states}`);
});

test('4001 for an invalid token stops without asking for another token', async (t) => {
  let calls = 0;
  const { client, socket } = await connected(t, { getToken: () => `token-${++calls}` });
  const assertNoReconnection = watchReconnections(t);
  socket.receive({ type: 'error', code: 'unauthorized', message: 'invalid token' });
  socket.disconnect(4001, 'invalid token', false);
  assert.equal(client.state, 'disconnected');
  assert.equal(calls, 1);
  await assertNoReconnection();
});

test('an expired token without getToken ends in the error state (token_expired)', async (t) => {
  const { client, socket } = await connected(t, { token: 'only-token' });
  const failure = nextEvent(client, 'error');
  const assertNoReconnection = watchReconnections(t);
  socket.disconnect(4001, 'token expired', true);
  const [error] = await failure;
  assert.equal(error.code, 'token_expired');
  assert.equal(client.state, 'error');
  await assertNoReconnection();
});

test('a failing getToken is retried with backoff', async (t) => {
  let calls = 0;
  const client = makeClient(t, {
    getToken: async () => {
      if (++calls < 3) throw new Error('auth service down');
      return 'finally';
    },
  });
  const errors = [];
  client.on('error', (error) => errors.push(error.code));
  const socket = await FakeWebSocket.nth(1);
  assert.equal(socket.searchParams.get('token'), 'finally');
  assert.deepEqual(errors, ['token_failed', 'token_failed']);
});

test('maxReconnectAttempts: after that many failed attempts the client gives up in the error state', async (t) => {
  const client = makeClient(t, { maxReconnectAttempts: 2 });
  const failure = nextEvent(client, 'error', { predicate: (error) => error.code === 'reconnect_failed' });
  for (let n = 1; n <= 2; n++) (await FakeWebSocket.nth(n)).drop(1006);
  const third = await FakeWebSocket.nth(3);
  const assertNoReconnection = watchReconnections(t);
  third.drop(1006);
  await failure;
  assert.equal(client.state, 'error');
  await assertNoReconnection();
});

test('requests time out with code "timeout", and a late reply is ignored', async (t) => {
  const { client, socket } = await connected(t, { requestTimeout: 30 });
  const request = client.send({ type: 'chat:send', text: 'hi' });
  const sent = await socket.frame((frame) => frame.type === 'chat:send');
  assert.equal(typeof sent.id, 'number');
  await assert.rejects(request, { code: 'timeout' });
  socket.receive({ type: 'ack', id: sent.id });
  assert.equal(client.state, 'connected');
});

test('replies resolve by id: ack, pong, auth_success; an error frame rejects with its code and message', async (t) => {
  const { client, socket } = await connected(t);
  const publish = client.publish('chat:a', 'msg', { text: 'hi' });
  const ping = client.send({ type: 'ping', timestamp: 5 });
  const forbidden = client.publish('chat:b', 'msg', 1);
  const auth = client.authenticate('new-token');
  const frames = socket.sent;
  await socket.frame((frame) => frame.type === 'auth');
  socket.receive({ type: 'error', id: frames[2].id, code: 'forbidden', message: 'not yours' });
  socket.receive({ type: 'pong', id: frames[1].id, timestamp: 5 });
  socket.receive({ type: 'ack', id: frames[0].id, message_id: 'm1' });
  socket.receive({ type: 'auth_success', id: frames[3].id, client: 'c1', user: 'alice', expires_at: 99 });
  assert.deepEqual(frames[0], { type: 'publish', topic: 'chat:a', data: { text: 'hi' }, event: 'msg', id: frames[0].id });
  assert.equal((await publish).message_id, 'm1');
  assert.equal((await ping).timestamp, 5);
  await assert.rejects(forbidden, (error) => error.code === 'forbidden' && error.message === 'not yours');
  assert.equal((await auth).user, 'alice');
  assert.deepEqual(client.session, { client: 'c1', user: 'alice', expiresAt: 99 });
});

test('requests other than publish are refused while not connected', async (t) => {
  const client = makeClient(t, { autoConnect: false });
  await assert.rejects(client.send({ type: 'ping' }), { code: 'not_connected' });
});

test('requests in flight when the connection drops reject with "disconnected"', async (t) => {
  const { client, socket } = await connected(t);
  const request = client.publish('chat:a', 'e', 1);
  await socket.frame((frame) => frame.type === 'publish');
  socket.drop(1006);
  await assert.rejects(request, { code: 'disconnected' });
});

test('heartbeat: ping frames carry a timestamp; pongs give stats.latency last and average', async (t) => {
  const { client, socket } = await connected(t, { heartbeatInterval: 10 });
  assert.deepEqual(client.stats.latency, { last: null, average: null });
  for (let round = 0; round < 2; round++) {
    const ping = await socket.frame((frame) => frame.type === 'ping' && !frame.answered);
    assert.equal(typeof ping.timestamp, 'number');
    ping.answered = true;
    const answered = nextEvent(client, 'frame', { predicate: (frame) => frame.type === 'pong' });
    socket.receive({ type: 'pong', id: ping.id, timestamp: ping.timestamp });
    await answered;
  }
  await new Promise((resolve) => setImmediate(resolve)); // ping() records after its reply resolves
  const { last, average } = client.stats.latency;
  assert.ok(last >= 0 && average >= 0, `latency ${last} / ${average}`);
});

test('heartbeat: a connection that stops answering pings is dropped and replaced', async (t) => {
  const { client, socket } = await connected(t, { heartbeatInterval: 10, requestTimeout: 10 });
  await socket.frame((frame) => frame.type === 'ping');
  const second = await FakeWebSocket.nth(2);
  assert.equal(socket.closedWith.code, 4000);
  assert.equal(socket.closedWith.reason, 'heartbeat timeout');
  second.open();
  await stateReached(client, 'connected');
});

test('close(): disconnected for good; requests in flight and queued publishes reject with "closed"', async (t) => {
  const { client, socket } = await connected(t);
  const inFlight = client.publish('chat:a', 'e', 1);
  await socket.frame((frame) => frame.type === 'publish');
  const assertNoReconnection = watchReconnections(t);
  client.close();
  assert.equal(client.state, 'disconnected');
  assert.equal(client.closed, true);
  assert.equal(socket.closedWith.code, 1000);
  await assert.rejects(inFlight, { code: 'closed' });
  await assert.rejects(client.publish('chat:a', 'e', 2), { code: 'closed' });
  await assertNoReconnection();
});

test('close() during a reconnection wait cancels it', async (t) => {
  const { client, socket } = await connected(t);
  const assertNoReconnection = watchReconnections(t);
  socket.drop(1006);
  assert.equal(client.state, 'reconnecting');
  client.close();
  assert.equal(client.state, 'disconnected');
  await assertNoReconnection();
});

test('stats count frames and UTF-8 bytes in both directions', async (t) => {
  const { client, socket } = await connected(t);
  const before = client.stats; // the hub's `connected` frame
  client.publish('chat:a', 'e', 'é');
  const sent = await socket.frame((frame) => frame.type === 'publish');
  const reply = { type: 'ack', id: sent.id, message_id: 'ü' };
  socket.receive(reply);
  const { messagesSent, bytesSent, messagesReceived, bytesReceived } = client.stats;
  assert.equal(messagesSent, 1);
  assert.equal(bytesSent, Buffer.byteLength(JSON.stringify(sent)));
  assert.equal(messagesReceived - before.messagesReceived, 1);
  assert.equal(bytesReceived - before.bytesReceived, Buffer.byteLength(JSON.stringify(reply)));
});

test('getClient: one shared client per URL; shared:false gives a new one; a closed client is replaced', async (t) => {
  const options = { WebSocket: FakeWebSocket, heartbeatInterval: 0 };
  const a = getClient('ws://shared.test/ws', options);
  const b = getClient('ws://shared.test/ws', options);
  const other = getClient('ws://other.test/ws', options);
  const own = getClient('ws://shared.test/ws', { ...options, shared: false });
  t.after(() => [a, other, own].forEach((client) => client.close()));
  assert.equal(a, b);
  assert.notEqual(a, other);
  assert.notEqual(a, own);
  a.close();
  const replacement = getClient('ws://shared.test/ws', options);
  t.after(() => replacement.close());
  assert.notEqual(replacement, a);
  assert.equal(getClient('ws://shared.test/ws', options), replacement);
});

// --- protocol v1.1 (docs/protocol.md, "Versions") ---

test('the client asks for chorus.v1.1 and is open only once the hub says connected', async (t) => {
  const client = makeClient(t, { token: 'a-token' });
  const states = recordStates(client);
  const auths = [];
  client.on('auth', (frame) => auths.push(frame));
  const socket = await FakeWebSocket.nth(1);
  assert.deepEqual(socket.protocols, [SUBPROTOCOL]);
  socket.open({ connected: null });
  assert.equal(client.state, 'connecting', 'the socket is open, the token not yet accepted');
  const publish = client.publish('chat:a', 'e', 1);
  assert.equal(socket.sent.length, 0, 'nothing is sent before connected');
  const opened = nextEvent(client, 'open');
  socket.receive({ type: 'connected', client: 'c-7', user: 'alice', protocol: '1.1', expires_at: 99 });
  await opened;
  assert.deepEqual(states, ['connected']);
  assert.deepEqual(client.session, { client: 'c-7', user: 'alice', expiresAt: 99 });
  assert.equal(auths.length, 1, 'a token accepted with the connection is reported as auth');
  await socket.reply('publish', { type: 'ack', message_id: 'm1' });
  assert.equal((await publish).message_id, 'm1');
});

test('an anonymous v1.1 connection learns its client id from connected', async (t) => {
  const { client } = await connected(t);
  await stateReached(client, 'connected');
  assert.deepEqual(client.session, { client: 'fake-1', user: null, expiresAt: null });
});

test('a hub that selects no subprotocol (v1) is open as soon as the socket is', async (t) => {
  const client = makeClient(t);
  const socket = await FakeWebSocket.nth(1);
  socket.open({ protocol: '' });
  assert.equal(client.state, 'connected');
  assert.equal(client.session, null);
});

test('a v1.1 hub that needs a token refuses a client without one: error, never connected, no retry', async (t) => {
  const client = makeClient(t);
  const states = recordStates(client);
  const errors = [];
  client.on('error', (error) => errors.push(error));
  const socket = await FakeWebSocket.nth(1);
  const assertNoReconnection = watchReconnections(t);
  socket.open({ connected: false });
  socket.receive({ type: 'error', code: 'unauthorized', reason: 'token_required', message: "this hub needs a token: connect with one, or send an 'auth' frame" });
  assert.equal(client.state, 'error');
  assert.deepEqual(states, ['error']);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'token_required');
  assert.equal(errors[0].reason, 'token_required');
  assert.deepEqual(socket.closedWith, { code: 1000, reason: 'refused' });
  await assertNoReconnection();
});

test('error frames carry their reason on the ChorusError', async (t) => {
  const { client, socket } = await connected(t);
  const request = client.send({ type: 'auth', token: 'old' });
  await socket.reply('auth', { type: 'error', code: 'unauthorized', reason: 'token_expired', message: 'token rejected: expired' });
  await assert.rejects(request, (error) => error.code === 'unauthorized' && error.reason === 'token_expired');
});

// The frames every implementation shares (Tests/vectors/protocol-v1.1.json).
const vectors = JSON.parse(readFileSync(new globalThis.URL('../../../Tests/vectors/protocol-v1.1.json', import.meta.url), 'utf8'));

test('shared vectors: the subprotocol and every frame parse as the hub means them', () => {
  assert.equal(vectors.subprotocol, SUBPROTOCOL);
  for (const { name, frame, client: action } of vectors.frames) {
    if (frame.type === 'disconnect') assert.equal(closePolicy(frame.code, frame), action, name);
  }
});

for (const { name, frame, client: action } of vectors.frames.filter((vector) => vector.frame.type === 'disconnect')) {
  test(`shared vector ${name}: the client does '${action}'`, async (t) => {
    let calls = 0;
    const { client, socket } = await connected(t, { getToken: () => `token-${++calls}` });
    await stateReached(client, 'connected');
    const assertNoReconnection = action === 'stop' ? watchReconnections(t) : null;
    const disconnects = [];
    client.on('disconnect', (received) => disconnects.push(received));
    socket.receive(frame);
    socket.drop(frame.code, frame.message);
    assert.deepEqual(disconnects, [frame]);
    if (action === 'stop') {
      assert.equal(client.state, 'disconnected');
      await assertNoReconnection();
      await assert.rejects(client.publish('a', 'e', 1), (error) => error.message.includes(frame.message));
      return;
    }
    const next = await FakeWebSocket.nth(2);
    assert.equal(next.searchParams.get('token'), action === 'refresh' ? 'token-2' : 'token-1');
    assert.equal(calls, action === 'refresh' ? 2 : 1);
  });
}

test('shared vectors: connected frames give the session', async (t) => {
  for (const { name, frame } of vectors.frames.filter((vector) => vector.frame.type === 'connected')) {
    FakeWebSocket.reset();
    const client = makeClient(t);
    (await FakeWebSocket.nth(1)).open({ connected: null });
    (await FakeWebSocket.nth(1)).receive(frame);
    assert.equal(client.state, 'connected', name);
    assert.deepEqual(client.session, { client: frame.client, user: frame.user ?? null, expiresAt: frame.expires_at ?? null }, name);
    client.close();
  }
});

test("in a browser, 'offline' ends the connection at once and 'online' reconnects without waiting out the backoff", async (t) => {
  // A window's events, as a browser has them on globalThis.
  const network = new EventTarget();
  globalThis.addEventListener = network.addEventListener.bind(network);
  globalThis.removeEventListener = network.removeEventListener.bind(network);
  t.after(() => {
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
  });
  const { client, socket } = await connected(t, { backoff: { base: 60000, cap: 60000, random: () => 1 } });
  await stateReached(client, 'connected');
  const closes = [];
  client.on('close', (info) => closes.push(info.code));
  network.dispatchEvent(new Event('offline'));
  assert.equal(client.state, 'reconnecting');
  assert.deepEqual(closes, [1006]);
  assert.equal(socket.closedWith.code, 4000);
  // The backoff says a minute; 'online' does not wait for it.
  network.dispatchEvent(new Event('online'));
  const next = await FakeWebSocket.nth(2, 1000);
  next.open();
  await stateReached(client, 'connected');
  // Closed: the events no longer reach it.
  client.close();
  network.dispatchEvent(new Event('online'));
  assert.equal(FakeWebSocket.instances.length, 2);
});
