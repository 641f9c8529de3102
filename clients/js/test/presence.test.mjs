// channel.presence against a scripted hub: the member list from presence_state and
// presence_diff, the events, update/leave frames, and the rejoin after a reconnection.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ChorusClient, groupByUser } from '../chorus.js';
import { FakeWebSocket, connectedClient } from '../test-helpers/fake-websocket.mjs';

beforeEach(() => FakeWebSocket.reset());

const TOPIC = 'room:a';

async function connected(t, client = 'me') {
  const { client: chorus, socket } = await connectedClient(t, { connected: { client } });
  return { chorus, socket, presence: chorus.channel(TOPIC).presence };
}

const member = (client, user, meta = {}, joinedAt = 1) => ({ user, client, meta, joined_at: joinedAt });
const state = (...members) => ({ type: 'presence_state', topic: TOPIC, members, count: members.length, users: new Set(members.map((m) => m.user ?? m.client)).size });
const diff = (joins, leaves = []) => ({ type: 'presence_diff', topic: TOPIC, joins, leaves });

/** Records presence events as short strings. */
function record(presence) {
  const seen = [];
  presence.on('join', (m) => seen.push(`join ${m.client}`));
  presence.on('leave', (m) => seen.push(`leave ${m.client}`));
  presence.on('update', (m, old) => seen.push(`update ${m.client} ${JSON.stringify(old.meta)}→${JSON.stringify(m.meta)}`));
  presence.on('sync', (users) => seen.push(`sync ${users.length}`));
  return seen;
}

test('join sends presence_join with the meta and resolves with the state, applied', async (t) => {
  const { socket, presence } = await connected(t);
  const seen = record(presence);
  const joined = presence.join({ status: 'online', name: 'Me' });
  const request = await socket.reply('presence_join', state(member('c1', 'bob', { name: 'Bob' }), member('me', 'alice', { status: 'online', name: 'Me' }, 2)));
  assert.deepEqual(request, { type: 'presence_join', topic: TOPIC, meta: { status: 'online', name: 'Me' }, id: request.id });
  assert.equal((await joined).type, 'presence_state');
  assert.deepEqual(seen, ['join c1', 'join me', 'sync 2']);
  assert.equal(presence.joined, true);
  assert.equal(presence.count, 2);
  assert.equal(presence.userCount, 2);
  assert.equal(presence.me.client, 'me');
  assert.deepEqual(presence.list().map((m) => m.client), ['c1', 'me']);
});

test('diffs: leaves first, then joins as upserts; an update is reported once and keeps its place', async (t) => {
  const { socket, presence } = await connected(t);
  const joined = presence.join({});
  await socket.reply('presence_join', state(member('me', 'alice'), member('c1', 'bob', { status: 'online' }, 2)));
  await joined;
  const seen = record(presence);
  // Our own join echoed (already in the state): nothing new.
  socket.receive(diff([member('me', 'alice')]));
  // Bob goes away (a leave and a join of the same client), Carol joins, Dan's leave is unknown.
  socket.receive(diff([member('c1', 'bob', { status: 'away' }, 2), member('c2', 'carol', {}, 3)], [member('c1', 'bob', { status: 'online' }, 2), member('c9', 'dan')]));
  assert.deepEqual(seen, ['sync 2', 'update c1 {"status":"online"}→{"status":"away"}', 'join c2', 'sync 3']);
  assert.deepEqual(presence.list().map((m) => m.client), ['me', 'c1', 'c2']);
  socket.receive(diff([], [member('c2', 'carol', {}, 3)]));
  assert.deepEqual(seen.slice(-2), ['leave c2', 'sync 2']);
  assert.deepEqual(presence.list().map((m) => [m.client, m.meta]), [['me', {}], ['c1', { status: 'away' }]]);
});

test('a diff that overtakes the state answering a join is applied again after it (a cluster)', async (t) => {
  const { socket, presence } = await connected(t);
  const joined = presence.join({});
  const request = await socket.frame((frame) => frame.type === 'presence_join');
  // Carol joins and Bob leaves after the hub read the list, but the diff comes first.
  socket.receive(diff([member('c2', 'carol', {}, 3)], [member('c1', 'bob', {}, 2)]));
  socket.receive({ ...state(member('c1', 'bob', {}, 2), member('me', 'alice', {}, 4)), id: request.id });
  await joined;
  assert.deepEqual(presence.list().map((m) => m.client), ['me', 'c2']);
  // Once the state is in, a later diff is applied once, as usual.
  socket.receive(diff([], [member('c2', 'carol', {}, 3)]));
  assert.deepEqual(presence.list().map((m) => m.client), ['me']);
  // A diff that came before a state the client did not wait for is not kept: the next state replaces it.
  socket.receive(diff([member('c3', 'dan', {}, 5)]));
  socket.receive(state(member('me', 'alice', {}, 4)));
  assert.deepEqual(presence.list().map((m) => m.client), ['me']);
});

test('members() groups connections by user; anonymous connections are users of their own', () => {
  const users = groupByUser([
    member('a1', 'alice', { status: 'online' }, 1),
    member('x', null, {}, 2),
    member('a2', 'alice', { status: 'busy' }, 3),
    member('y', null, {}, 4),
  ]);
  assert.deepEqual(users.map((u) => [u.key, u.user, u.connections.map((c) => c.client), u.meta]), [
    ['alice', 'alice', ['a1', 'a2'], { status: 'busy' }],
    ['x', null, ['x'], {}],
    ['y', null, ['y'], {}],
  ]);
});

test('a state replaces the list: who is missing leaves, who changed is an update', async (t) => {
  const { socket, presence } = await connected(t);
  socket.receive(state(member('c1', 'bob'), member('c2', 'carol')));
  const seen = record(presence);
  socket.receive(state(member('c2', 'carol', { status: 'busy' }), member('c3', 'dan')));
  assert.deepEqual(seen, ['leave c1', 'update c2 {}→{"status":"busy"}', 'join c3', 'sync 2']);
  assert.equal(presence.joined, false, 'watching is not joining');
});

test('update merges into the last meta and sends presence_update; setStatus sets status', async (t) => {
  const { socket, presence } = await connected(t);
  await assert.rejects(presence.update({ status: 'away' }), { code: 'not_joined' });
  const joined = presence.join({ name: 'Me', status: 'online' });
  await socket.reply('presence_join', state(member('me', 'alice', { name: 'Me', status: 'online' })));
  await joined;
  const updated = presence.setStatus('away');
  const request = await socket.reply('presence_update', { type: 'ack' });
  assert.deepEqual(request.meta, { name: 'Me', status: 'away' });
  assert.equal((await updated).type, 'ack');
  assert.deepEqual(presence.meta, { name: 'Me', status: 'away' });
  await assert.rejects(presence.update('away'), TypeError);
});

test('leave sends presence_leave and the list keeps following the topic', async (t) => {
  const { socket, presence } = await connected(t);
  const joined = presence.join();
  await socket.reply('presence_join', state(member('me', 'alice'), member('c1', 'bob', {}, 2)));
  await joined;
  const left = presence.leave();
  await socket.reply('presence_leave', { type: 'ack' });
  await left;
  assert.equal(presence.joined, false);
  socket.receive(diff([], [member('me', 'alice')]));
  assert.deepEqual(presence.list().map((m) => m.client), ['c1']);
});

test('a refused join rejects, emits error and leaves the client not joined', async (t) => {
  const { socket, presence } = await connected(t);
  const errors = [];
  presence.on('error', (error) => errors.push(error.code));
  const joined = presence.join({});
  await socket.reply('presence_join', { type: 'error', code: 'forbidden', message: 'presence is off' });
  await assert.rejects(joined, { code: 'forbidden' });
  assert.deepEqual(errors, ['forbidden']);
  assert.equal(presence.joined, false);
});

test('after a reconnection it joins again with the last meta; the new state replaces the old', async (t) => {
  const { socket, presence } = await connected(t, 'old-me');
  const joined = presence.join({ name: 'Me' });
  await socket.reply('presence_join', state(member('old-me', 'alice', { name: 'Me' }), member('c1', 'bob', {}, 2)));
  await joined;
  socket.drop(1006);
  // Changed while offline: kept for the rejoin, not sent now.
  assert.equal(await presence.update({ status: 'away' }), null);
  const next = await FakeWebSocket.nth(2);
  next.open({ connected: { client: 'new-me' } });
  const seen = record(presence);
  const rejoin = await next.reply('presence_join', state(member('c1', 'bob', {}, 2), member('new-me', 'alice', { name: 'Me', status: 'away' }, 5)));
  assert.deepEqual(rejoin.meta, { name: 'Me', status: 'away' });
  assert.deepEqual(seen, ['leave old-me', 'join new-me', 'sync 2']);
  assert.equal(presence.me.client, 'new-me');
  assert.equal(next.sent.filter((f) => f.type === 'presence_update').length, 0, 'the rejoin carries the update');
});

test('a join made while offline is sent once connected', async (t) => {
  const chorus = new ChorusClient('ws://hub.test/ws', { WebSocket: FakeWebSocket, heartbeatInterval: 0 });
  t.after(() => chorus.close());
  const joined = chorus.channel(TOPIC).presence.join({ name: 'Early' });
  const socket = await FakeWebSocket.nth(1);
  socket.open({ connected: { client: 'me' } });
  await socket.reply('presence_join', state(member('me', null, { name: 'Early' })));
  assert.equal((await joined).count, 1);
});

test('a diff for another topic does not reach this channel; sync() asks for the state', async (t) => {
  const { chorus, socket, presence } = await connected(t);
  socket.receive({ ...diff([member('z', 'zed')]), topic: 'room:b' });
  assert.equal(presence.count, 0);
  assert.equal(chorus.channel('room:b').presence.count, 1);
  const synced = presence.sync();
  await socket.reply('presence', state(member('c1', 'bob')));
  await synced;
  assert.equal(presence.count, 1);
  const stats = presence.stats();
  const request = await socket.reply('presence_stats', { type: 'presence_stats', topic: TOPIC, clients: 1, users: 1 });
  assert.equal(request.topic, TOPIC);
  assert.equal((await stats).clients, 1);
});

test('leave while the join is on its way: the leave follows it; an update on the way is sent after the join', async (t) => {
  const { socket, presence } = await connected(t);
  const joined = presence.join({ name: 'A' });
  const left = presence.leave();
  await assert.rejects(joined, { code: 'left' });
  await socket.reply('presence_join', state(member('me', 'alice', { name: 'A' })));
  await socket.reply('presence_leave', { type: 'ack' });
  await left;
  assert.deepEqual(socket.sent.map((f) => f.type), ['presence_join', 'presence_leave']);
  assert.equal(presence.joined, false);

  const again = presence.join({ name: 'B' });
  assert.equal(await presence.update({ status: 'busy' }), null, 'not confirmed yet: kept for after the join');
  const request = await socket.frame((f) => f.type === 'presence_join' && f.meta.name === 'B');
  socket.receive({ ...state(member('me', 'alice', { name: 'B' })), id: request.id });
  await again;
  const update = await socket.frame((f) => f.type === 'presence_update');
  assert.deepEqual(update.meta, { name: 'B', status: 'busy' });
});

test('unsubscribing the channel is a leave (as on the hub): not joined, the list emptied, no rejoin', async (t) => {
  const { socket, presence, chorus } = await connected(t);
  const channel = chorus.channel(TOPIC);
  const subscribed = channel.subscribe();
  await socket.reply('subscribe', { type: 'subscribed', topic: TOPIC });
  await subscribed;
  const joined = presence.join({});
  await socket.reply('presence_join', state(member('me', 'alice'), member('c1', 'bob', {}, 2)));
  await joined;
  const seen = record(presence);
  const done = channel.unsubscribe();
  await socket.reply('unsubscribe', { type: 'unsubscribed', topic: TOPIC });
  await done;
  assert.deepEqual(seen, ['leave me', 'leave c1', 'sync 0']);
  assert.equal(presence.joined, false);
  socket.drop(1006);
  const next = await FakeWebSocket.nth(2);
  next.open({ connected: { client: 'me2' } }); // the channels' frames go out as it opens
  assert.deepEqual(next.sent.filter((f) => f.type.startsWith('presence')), []);
});
