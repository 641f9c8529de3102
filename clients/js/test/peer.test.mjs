// PeerConnection's perfect negotiation over a scripted hub that relays `signal` frames between
// two clients, with fake RTCPeerConnections: roles, glare resolved by rollback, ICE restart,
// data channels and their counters, accept() and close().
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ChorusClient, PeerConnection } from '../chorus.js';
import { FakeWebSocket } from '../test-helpers/fake-websocket.mjs';
import { FakeRTCPeerConnection, link } from '../test-helpers/fake-rtc.mjs';
import { nextEvent, within } from '../test-helpers/wait.mjs';

beforeEach(() => FakeWebSocket.reset());

/**
 * Two clients, 'a' and 'b', on a fake hub that acks each `signal` and relays it to the other in
 * a later task (as a network would). `relayed` lists the data of every relayed signal.
 */
async function pair(t) {
  const clients = {};
  const sockets = {};
  const relayed = [];
  for (const id of ['a', 'b']) {
    clients[id] = new ChorusClient('ws://hub.test/ws', { WebSocket: FakeWebSocket, heartbeatInterval: 0 });
    t.after(() => clients[id].close());
    sockets[id] = await FakeWebSocket.nth(Object.keys(sockets).length + 1);
    sockets[id].open({ connected: { client: id, user: `user-${id}` } });
  }
  for (const [from, to] of [['a', 'b'], ['b', 'a']]) {
    const socket = sockets[from];
    const send = socket.send.bind(socket);
    socket.send = (text) => {
      send(text);
      const frame = JSON.parse(text);
      if (frame.type !== 'signal') return;
      assert.equal(frame.to, to);
      setTimeout(() => {
        socket.receive({ type: 'ack', id: frame.id });
        relayed.push({ from, ...frame.data });
        sockets[to].receive({ type: 'signal', from: { user: `user-${from}`, client: from }, data: frame.data });
      }, 0);
    };
  }
  return { clients, relayed };
}

const options = { RTCPeerConnection: FakeRTCPeerConnection };

/** Waits until `condition()` holds (checked after each task), or fails naming `what`. */
async function until(condition, what) {
  await within((async () => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
  })(), 3000, what);
}

const stable = (...peers) => peers.every((peer) => peer.connection.signalingState === 'stable');
const descriptions = (relayed) => relayed.filter((s) => s.description).map((s) => `${s.from}:${s.description.type}`);

test('roles come from the client ids: the later id is polite', async (t) => {
  const { clients } = await pair(t);
  const a = new PeerConnection(clients.a, 'b', options);
  const b = new PeerConnection(clients.b, 'a', options);
  t.after(() => { a.close(); b.close(); });
  assert.equal(a.polite, false);
  assert.equal(b.polite, true);
  assert.throws(() => new PeerConnection(clients.a, 'b', options), /already/);
});

test('one side calls: offer, answer, candidates both ways; data channels open and count messages', async (t) => {
  const { clients, relayed } = await pair(t);
  const accepted = [];
  const stop = PeerConnection.accept(clients.b, (peer, from) => accepted.push([peer, from]), options);
  t.after(stop);
  const before = PeerConnection.stats;
  const a = new PeerConnection(clients.a, 'b', options);
  a.createDataChannel('chat');
  await until(() => accepted.length === 1 && stable(a, accepted[0][0]) && a.connection.candidates.length > 0 && accepted[0][0].connection.candidates.length > 0, 'negotiation');
  const [b, from] = accepted[0];
  t.after(() => { a.close(); b.close(); });
  assert.deepEqual(from, { user: 'user-a', client: 'a' });
  assert.deepEqual(descriptions(relayed), ['a:offer', 'b:answer']);
  assert.deepEqual(a.connection.candidates, [{ candidate: `host pc${b.connection.id}`, sdpMid: '0' }], 'b\'s candidate added on a');
  assert.deepEqual(b.connection.candidates, [{ candidate: `host pc${a.connection.id}`, sdpMid: '0' }], 'a\'s candidate added on b');

  const opened = nextEvent(b, 'datachannel');
  link(a.connection, b.connection);
  const [remote] = await opened;
  assert.equal(remote.label, 'chat');
  const got = nextEvent(b, 'message');
  a.send('hello b', 'chat');
  assert.equal((await got)[0], 'hello b');
  const back = nextEvent(a, 'message');
  b.send('hello a');
  assert.equal((await back)[0], 'hello a');
  assert.throws(() => a.send('x', 'other'), { code: 'not_open' });
  assert.deepEqual([a.stats.dataChannels, a.stats.messagesSent, a.stats.messagesReceived], [1, 1, 1]);
  assert.deepEqual([b.stats.dataChannels, b.stats.messagesSent, b.stats.messagesReceived], [1, 1, 1]);
  const after = PeerConnection.stats;
  assert.equal(after.created - before.created, 2);
  assert.equal(after.dataChannels - before.dataChannels, 2);
  assert.equal(after.messagesSent - before.messagesSent, 2);
  assert.equal(a.connectionState, 'connected');
});

test('glare: both call at once; the impolite side ignores the offer, the polite one rolls back and answers', async (t) => {
  const { clients, relayed } = await pair(t);
  const a = new PeerConnection(clients.a, 'b', options);
  const b = new PeerConnection(clients.b, 'a', options);
  t.after(() => { a.close(); b.close(); });
  const errors = [];
  a.on('error', (e) => errors.push(e));
  b.on('error', (e) => errors.push(e));
  a.createDataChannel('chat');
  b.createDataChannel('chat');
  await until(() => descriptions(relayed).length === 3 && stable(a, b), 'glare resolved');
  assert.deepEqual(descriptions(relayed).sort(), ['a:offer', 'b:answer', 'b:offer']);
  assert.equal(b.stats.rollbacks, 1, 'the polite side rolled back');
  assert.equal(a.stats.ignoredOffers, 1, 'the impolite side ignored the colliding offer');
  assert.match(b.connection.remoteDescription.sdp, /offer/);
  assert.match(a.connection.remoteDescription.sdp, /answer to pc\d+ offer/);
  assert.deepEqual(errors, [], 'candidates of the ignored offer are dropped quietly');
});

test('an ICE failure restarts ICE: a new offer is made and answered', async (t) => {
  const { clients, relayed } = await pair(t);
  const a = new PeerConnection(clients.a, 'b', options);
  const b = new PeerConnection(clients.b, 'a', options);
  t.after(() => { a.close(); b.close(); });
  a.createDataChannel('chat');
  await until(() => descriptions(relayed).length === 2 && stable(a, b), 'first negotiation');
  a.connection.failIce();
  await until(() => descriptions(relayed).length === 4 && stable(a, b), 'ICE restart');
  assert.equal(a.stats.iceRestarts, 1);
  assert.match(relayed.filter((s) => s.description)[2].description.sdp, /restarts=1/);
});

test('close tells the other side, which closes too; the page totals count them', async (t) => {
  const { clients } = await pair(t);
  const active = PeerConnection.stats.active;
  const a = new PeerConnection(clients.a, 'b', options);
  const b = new PeerConnection(clients.b, 'a', options);
  assert.equal(PeerConnection.stats.active, active + 2);
  const closed = nextEvent(b, 'close');
  a.close();
  await closed;
  assert.equal(a.connectionState, 'closed');
  assert.equal(b.connectionState, 'closed');
  assert.equal(PeerConnection.stats.active, active);
  // Gone from the registry: a new connection to the same client may be made.
  new PeerConnection(clients.a, 'b', options).close();
});

test('a signal that is not WebRTC reaches the client\'s signal listeners only', async (t) => {
  const { clients } = await pair(t);
  const seen = nextEvent(clients.b, 'signal');
  await clients.a.send({ type: 'signal', to: 'b', data: { hello: 1 } }).catch(() => {});
  const [frame] = await seen;
  assert.deepEqual(frame.data, { hello: 1 });
});

test('signals of a closed connection still on their way do not open a new one', async (t) => {
  const { clients } = await pair(t);
  const accepted = [];
  t.after(PeerConnection.accept(clients.b, (peer) => accepted.push(peer), options));
  const [socket] = FakeWebSocket.instances.slice(1);
  socket.receive({ type: 'signal', from: { user: 'user-a', client: 'a' }, data: { kind: 'webrtc', candidate: { candidate: 'late' } } });
  socket.receive({ type: 'signal', from: { user: 'user-a', client: 'a' }, data: { kind: 'webrtc', description: { type: 'answer', sdp: 'late' } } });
  socket.receive({ type: 'signal', from: { user: 'user-a', client: 'a' }, data: { kind: 'webrtc', bye: true } });
  assert.equal(accepted.length, 0);
  socket.receive({ type: 'signal', from: { user: 'user-a', client: 'a' }, data: { kind: 'webrtc', description: { type: 'offer', sdp: 'new' } } });
  assert.equal(accepted.length, 1);
  accepted[0].close();
});

test('a signal the hub refuses (the other client is gone) is an error event', async (t) => {
  const chorus = new ChorusClient('ws://hub.test/ws', { WebSocket: FakeWebSocket, heartbeatInterval: 0 });
  t.after(() => chorus.close());
  const socket = await FakeWebSocket.nth(1);
  socket.open({ connected: { client: 'a' } });
  const peer = new PeerConnection(chorus, 'gone', options);
  t.after(() => peer.close());
  const failed = nextEvent(peer, 'error');
  peer.createDataChannel('chat');
  await socket.reply('signal', { type: 'error', code: 'not_found', message: 'no such client' });
  assert.equal((await failed)[0].code, 'not_found');
});
