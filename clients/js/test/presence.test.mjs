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

// Pages: a join with a limit lists the oldest few and the counts; the rest comes in pages.
const page = (members, { count, users, next } = {}) => ({
  ...state(...members),
  count: count ?? members.length,
  users: users ?? members.length,
  ...(next === undefined ? {} : { next }),
});

test('a join with a limit resolves with the first page; the rest is walked in the background, with diffs applied meanwhile', async (t) => {
  const { socket, presence } = await connected(t);
  const seen = record(presence);
  const joined = presence.join({ name: 'Me' }, { limit: 2, pageSize: 3 });
  const request = await socket.reply('presence_join', page([member('c1', 'u1', {}, 1), member('c2', 'u2', {}, 2)], { count: 6, users: 5, next: '2:c2' }));
  assert.equal(request.limit, 2);
  assert.equal((await joined).next, '2:c2');
  assert.equal(presence.complete, false);
  assert.equal(presence.count, 6, "the hub's count while pages load");
  assert.equal(presence.userCount, 5);
  // The next page is asked for after the first page's cursor, in pages of pageSize.
  const second = await socket.frame((f) => f.type === 'presence' && f.after === '2:c2');
  assert.deepEqual(second, { type: 'presence', topic: TOPIC, limit: 3, after: '2:c2', id: second.id });
  // Meanwhile c4 (on a later page) leaves and c9 joins: the diff comes before the page; c0 joins
  // at a time before the pages read (another node's clock): no page will list it.
  socket.receive(diff([member('c9', 'u9', {}, 9)], [member('c4', 'u4', {}, 4)]));
  socket.receive(diff([member('c0', 'u0', {}, 0)]));
  socket.receive({ ...page([member('c3', 'u3', {}, 3), member('c4', 'u4', {}, 4), member('c5', 'u1', {}, 5)], { count: 6, users: 5, next: '5:c5' }), id: second.id });
  assert.equal(presence.list().some((m) => m.client === 'c4'), false, 'the leave that overtook the page is applied again after it');
  const third = await socket.frame((f) => f.type === 'presence' && f.after === '5:c5');
  socket.receive({ ...page([member('me', 'alice', {}, 8), member('c9', 'u9', {}, 9)], { count: 6, users: 5 }), id: third.id });
  assert.equal(presence.complete, true);
  assert.deepEqual(presence.list().map((m) => m.client), ['c0', 'c1', 'c2', 'c3', 'c5', 'me', 'c9'], 'oldest first');
  assert.equal(presence.count, 7);
  assert.equal(presence.userCount, 6);
  assert.equal(seen.filter((s) => s.startsWith('join')).length, 8, 'c1 c2 c9 c0 c3 c4 c5 me: each once');
  assert.equal(socket.sent.filter((f) => f.type === 'presence').length, 2);
});

test('walk: false keeps the first page; page() reads one page without touching the list', async (t) => {
  const { socket, presence } = await connected(t);
  const joined = presence.join({}, { limit: 1, walk: false });
  await socket.reply('presence_join', page([member('c1', 'u1')], { count: 3, users: 3, next: '1:c1' }));
  await joined;
  assert.deepEqual(presence.list().map((m) => m.client), ['c1']);
  assert.equal(presence.count, 3);
  const one = presence.page({ limit: 2, after: '1:c1' });
  const request = await socket.reply('presence', page([member('c2', 'u2', {}, 2), member('me', 'u3', {}, 3)], { count: 3, users: 3 }));
  assert.deepEqual(request, { type: 'presence', topic: TOPIC, limit: 2, after: '1:c1', id: request.id });
  assert.deepEqual((await one).members.map((m) => m.client), ['c2', 'me']);
  assert.deepEqual(presence.list().map((m) => m.client), ['c1'], 'page() does not change the list');
  assert.equal(socket.sent.filter((f) => f.type === 'presence').length, 1, 'no walk');
});

test('a paged list replaces the one before only once complete; a rejoin pages again; bad limits throw', async (t) => {
  const { socket, presence } = await connected(t, 'old-me');
  const joined = presence.join({}, { limit: 1 });
  await socket.reply('presence_join', page([member('old-me', 'alice', {}, 1)], { count: 2, next: '1:old-me' }));
  await joined;
  const rest = await socket.frame((f) => f.type === 'presence');
  assert.equal(rest.limit, 1000, 'the rest in pages of 1000 by default');
  socket.receive({ ...page([member('c1', 'bob', {}, 2)], { count: 2 }), id: rest.id });
  assert.deepEqual(presence.list().map((m) => m.client), ['old-me', 'c1']);
  socket.drop(1006);
  const next = await FakeWebSocket.nth(2);
  next.open({ connected: { client: 'new-me' } });
  const seen = record(presence);
  const rejoin = await next.reply('presence_join', page([member('c1', 'bob', {}, 2)], { count: 2, next: '2:c1' }));
  assert.equal(rejoin.limit, 1, 'the rejoin asks for the same page');
  assert.deepEqual(seen, ['sync 2'], 'nobody leaves before the list is complete');
  await next.reply('presence', page([member('new-me', 'alice', {}, 5)], { count: 2 }));
  assert.deepEqual(seen, ['sync 2', 'join new-me', 'leave old-me', 'sync 2']);
  assert.deepEqual(presence.list().map((m) => m.client), ['c1', 'new-me']);
  await assert.rejects(presence.join({}, { limit: 1001 }), TypeError);
  await assert.rejects(presence.sync({ limit: -1 }), TypeError);
});
