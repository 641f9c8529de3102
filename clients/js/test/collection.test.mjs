// client.collection against a scripted hub: the shared sync vectors, optimistic mutations and
// their rollback, mutation ids kept across a dropped connection (applied once), resume with
// `since`, a snapshot after a gap told as changes, and close() rolling back what was pending.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FakeWebSocket, connectedClient } from '../test-helpers/fake-websocket.mjs';

beforeEach(() => FakeWebSocket.reset());

const NAME = 'tasks:board';
const vectors = JSON.parse(readFileSync(new URL('../../../Tests/vectors/protocol-v1.1.json', import.meta.url), 'utf8'));
const vector = (name) => structuredClone(vectors.frames.find((each) => each.name === name).frame);

async function connected(t) {
  const { client, socket } = await connectedClient(t, { connected: { client: 'me', user: 'alice' } });
  return { client, socket, tasks: client.collection(NAME) };
}

const record = (id, version, data) => ({ id, version, data, updated_at: 1, updated_by: 'bob' });
const snapshot = (version, ...records) => ({ type: 'sync_snapshot', collection: NAME, version, records });
const change = (op, id, version, data, more = {}) => ({ type: 'sync_change', collection: NAME, op, record_id: id, version, ...(data === undefined ? {} : { data }), ...more });
const shown = (tasks) => Object.fromEntries(tasks.list().map((r) => [r.id, r.data]));
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** The next sync_mutate the client sends (after the `count` already seen). */
const mutation = (socket, count) => socket.frame((f) => f.type === 'sync_mutate' && socket.sent.filter((g) => g.type === 'sync_mutate').indexOf(f) === count);

/** Records the collection's events as short strings. */
function events(tasks) {
  const seen = [];
  tasks.on('insert', (r, c) => seen.push(`insert ${r.id}@${r.version}${c.local ? ' local' : ''}`));
  tasks.on('update', (r, old) => seen.push(`update ${r.id}@${old.version}→${r.version}`));
  tasks.on('delete', (old) => seen.push(`delete ${old.id}`));
  tasks.on('rollback', (r) => seen.push(`rollback ${r.op} ${r.id} ${r.error.code} ${JSON.stringify(r.current?.data ?? null)}`));
  return seen;
}

test('the shared vectors: snapshot, changes, ack and conflict are applied as the hub means them', async (t) => {
  const { socket, tasks } = await connected(t);
  const subscribed = tasks.subscribe();
  assert.equal(tasks.status, 'loading');
  const request = await socket.reply('sync_subscribe', vector('sync_snapshot'));
  assert.deepEqual(request, { type: 'sync_subscribe', collection: NAME, id: request.id });
  assert.deepEqual(await subscribed, [vector('sync_snapshot').records[0]]);
  assert.equal(tasks.status, 'live');
  assert.equal(tasks.version, 7);

  // sync_changes (versions 8 and 9: an update, then a delete).
  const seen = events(tasks);
  socket.receive({ ...vector('sync_changes'), id: undefined });
  assert.deepEqual(seen, ['update t1@6→8', 'delete t1']);
  assert.equal(tasks.version, 9);
  assert.deepEqual(shown(tasks), {});

  // An ack and a conflict answer mutations by their request ids.
  const ackVector = vector('sync_ack');
  const inserted = tasks.insert({ title: 'Ship it', done: true }, { id: 't1' });
  const sent = await mutation(socket, 0);
  socket.receive(change('insert', 't1', 10, { title: 'Ship it', done: true }, { mutation_id: sent.mutation_id, by: 'alice' }));
  socket.receive({ ...ackVector, id: sent.id, version: 10, mutation_id: sent.mutation_id });
  assert.equal((await inserted).version, 10);
  const conflictVector = vector('sync_conflict');
  const refused = tasks.update('t1', { title: 'Mine' });
  const second = await mutation(socket, 1);
  assert.equal(second.base_version, 10);
  socket.receive({ ...conflictVector, id: second.id, current: { ...conflictVector.current, version: 11 } });
  await assert.rejects(refused, (error) => error.code === 'conflict');
  assert.deepEqual(shown(tasks), { t1: { title: 'Ship it', done: true } });
  assert.equal(tasks.get('t1').version, 11);
});

test('a mutation shows at once, pending, and the hub change then the ack confirm it', async (t) => {
  const { socket, tasks } = await connected(t);
  tasks.subscribe();
  await socket.reply('sync_subscribe', snapshot(3, record('a', 3, { n: 1 })));
  const seen = events(tasks);
  const updated = tasks.update('a', { n: 2 });
  assert.deepEqual(tasks.get('a'), { ...record('a', 3, { n: 2 }), pending: true });
  assert.equal(tasks.pending, 1);
  const sent = await mutation(socket, 0);
  assert.deepEqual(sent, { type: 'sync_mutate', collection: NAME, op: 'update', record_id: 'a', mutation_id: sent.mutation_id, data: { n: 2 }, base_version: 3, id: sent.id });
  socket.receive(change('update', 'a', 4, { n: 2 }, { mutation_id: sent.mutation_id, by: 'alice' }));
  // Applied by the hub: no longer pending, even before the ack.
  assert.equal(tasks.get('a').pending, undefined);
  socket.receive({ type: 'ack', id: sent.id, record_id: 'a', version: 4, mutation_id: sent.mutation_id });
  assert.equal((await updated).version, 4);
  assert.equal(tasks.pending, 0);
  assert.deepEqual(seen, ['update a@3→4']);
  // A remote change is applied once, by version; an older one is ignored.
  socket.receive(change('insert', 'b', 5, { n: 9 }));
  socket.receive(change('insert', 'b', 5, { n: 9 }));
  socket.receive(change('delete', 'a', 4));
  assert.deepEqual(seen, ['update a@3→4', 'insert b@5']);
  assert.deepEqual(shown(tasks), { a: { n: 2 }, b: { n: 9 } });
});

test('mutations go one at a time; one made on top of a pending one takes its version as base', async (t) => {
  const { socket, tasks } = await connected(t);
  tasks.subscribe();
  await socket.reply('sync_subscribe', snapshot(0));
  const inserted = tasks.insert({ title: 'x' }, { id: 'r' });
  const updated = tasks.update('r', { title: 'y' });
  const removed = tasks.remove('r', { baseVersion: null }); // last write wins: no base
  assert.deepEqual(shown(tasks), {});
  const first = await mutation(socket, 0);
  await settle();
  assert.equal(socket.sent.filter((f) => f.type === 'sync_mutate').length, 1, 'the second waits for the first');
  socket.receive(change('insert', 'r', 1, { title: 'x' }, { mutation_id: first.mutation_id }));
  socket.receive({ type: 'ack', id: first.id, record_id: 'r', version: 1, mutation_id: first.mutation_id });
  await inserted;
  const second = await mutation(socket, 1);
  assert.equal(second.base_version, 1);
  socket.receive({ type: 'ack', id: second.id, record_id: 'r', version: 2, mutation_id: second.mutation_id });
  await updated;
  const third = await mutation(socket, 2);
  assert.equal('base_version' in third, false);
  assert.equal(third.op, 'delete');
  assert.equal('data' in third, false);
  socket.receive({ type: 'ack', id: third.id, record_id: 'r', version: 3, mutation_id: third.mutation_id });
  await removed;
});

test('a refused mutation is rolled back, with the ones made on top of it, to the hub record', async (t) => {
  const { socket, tasks } = await connected(t);
  tasks.subscribe();
  await socket.reply('sync_subscribe', snapshot(5, record('a', 5, { title: 'old' })));
  const seen = events(tasks);
  const first = tasks.update('a', { title: 'mine' });
  const onTop = tasks.update('a', { title: 'mine, again' });
  const elsewhere = tasks.insert({ title: 'other' }, { id: 'b' });
  assert.deepEqual(shown(tasks), { a: { title: 'mine, again' }, b: { title: 'other' } });
  const sent = await mutation(socket, 0);
  const current = record('a', 6, { title: 'theirs' });
  socket.receive({ type: 'error', id: sent.id, code: 'conflict', message: "record 'a' is at version 6", current });
  await assert.rejects(first, (error) => error.code === 'conflict' && error.frame.current.version === 6);
  await assert.rejects(onTop, (error) => error.code === 'conflict');
  assert.deepEqual(seen, ['rollback update a conflict {"title":"theirs"}', 'rollback update a conflict {"title":"theirs"}']);
  assert.deepEqual(shown(tasks), { a: { title: 'theirs' }, b: { title: 'other' } });
  // The insert of another record goes on.
  const next = await mutation(socket, 1);
  assert.equal(next.record_id, 'b');
  socket.receive({ type: 'error', id: next.id, code: 'forbidden', message: 'no' });
  await assert.rejects(elsewhere, (error) => error.code === 'forbidden');
  assert.deepEqual(shown(tasks), { a: { title: 'theirs' } });
  // The hub's change for version 6 still comes, and changes nothing more.
  socket.receive(change('update', 'a', 6, { title: 'theirs' }));
  assert.deepEqual(shown(tasks), { a: { title: 'theirs' } });
  assert.equal(tasks.version, 6);
});

test('a mutation whose ack was lost is sent again with the same id after a reconnection, which resumes since its version', async (t) => {
  const { socket, tasks } = await connected(t);
  tasks.subscribe();
  await socket.reply('sync_subscribe', snapshot(2, record('a', 2, { n: 1 })));
  const updated = tasks.update('a', { n: 2 });
  const sent = await mutation(socket, 0);
  socket.drop(1006); // the hub may or may not have applied it
  assert.equal(tasks.status, 'offline');
  const queued = tasks.insert({ n: 3 }, { id: 'c' }); // made offline: waits
  assert.deepEqual(shown(tasks), { a: { n: 2 }, c: { n: 3 } });

  const next = await FakeWebSocket.nth(2);
  next.open({ connected: { client: 'me2', user: 'alice' } });
  const resubscribe = await next.frame((f) => f.type === 'sync_subscribe');
  assert.equal(resubscribe.since, 2);
  const again = await mutation(next, 0);
  assert.equal(again.mutation_id, sent.mutation_id);
  assert.equal(again.base_version, 2);
  // It had been applied: the missed change (with its id) comes in the resume, the retry's ack is the first one's.
  const seen = events(tasks);
  next.receive({ type: 'sync_changes', id: resubscribe.id, collection: NAME, version: 3, changes: [{ op: 'update', record_id: 'a', version: 3, data: { n: 2 }, mutation_id: sent.mutation_id, by: 'alice', at: 7 }] });
  assert.equal(tasks.status, 'live');
  next.receive({ type: 'ack', id: again.id, record_id: 'a', version: 3, mutation_id: sent.mutation_id });
  assert.equal((await updated).version, 3);
  assert.deepEqual(seen, ['update a@2→3']);
  const last = await mutation(next, 1);
  assert.deepEqual([last.op, last.record_id, last.data], ['insert', 'c', { n: 3 }]);
  next.receive(change('insert', 'c', 4, { n: 3 }, { mutation_id: last.mutation_id }));
  next.receive({ type: 'ack', id: last.id, record_id: 'c', version: 4, mutation_id: last.mutation_id });
  await queued;
  assert.equal(socket.sent.filter((f) => f.type === 'sync_mutate').length + next.sent.filter((f) => f.type === 'sync_mutate').length, 3);
  assert.deepEqual(seen, ['update a@2→3', 'insert c@4 local']);
  assert.equal(tasks.get('a').updated_at, 7);
});

test('a snapshot after a gap too long to resume replaces the records and tells what changed', async (t) => {
  const { socket, tasks } = await connected(t);
  tasks.subscribe();
  await socket.reply('sync_subscribe', snapshot(10, record('a', 1, { n: 1 }), record('b', 2, { n: 2 }), record('c', 3, { n: 3 })));
  socket.drop(1006);
  const next = await FakeWebSocket.nth(2);
  next.open({ connected: { client: 'me2' } });
  const seen = events(tasks);
  const snapshots = [];
  tasks.on('snapshot', (records, version) => snapshots.push(version));
  const request = await next.reply('sync_subscribe', snapshot(50, record('a', 1, { n: 1 }), record('c', 40, { n: 30 }), record('d', 45, { n: 4 })));
  assert.equal(request.since, 10);
  assert.deepEqual(seen, ['delete b', 'update c@3→40', 'insert d@45']);
  assert.deepEqual(snapshots, [50]);
  assert.equal(tasks.version, 50);
});

test('a refused subscription is an error; close() rolls back what was pending', async (t) => {
  const { client, socket, tasks } = await connected(t);
  const errors = [];
  tasks.on('error', (error) => errors.push(error.code));
  const subscribed = tasks.subscribe();
  await socket.reply('sync_subscribe', { type: 'error', code: 'unknown_type', message: 'no sync here' });
  await assert.rejects(subscribed, (error) => error.code === 'unknown_type');
  assert.deepEqual(errors, ['unknown_type']);
  assert.equal(tasks.status, 'error');

  socket.drop(1006);
  const seen = events(tasks);
  const pending = tasks.insert({ n: 1 }, { id: 'x' });
  assert.equal(tasks.size, 1);
  client.close();
  await assert.rejects(pending, (error) => error.code === 'closed');
  assert.deepEqual(seen, ['rollback insert x closed null']);
  assert.equal(tasks.size, 0);
  await assert.rejects(tasks.insert({ n: 2 }), (error) => error.code === 'closed');
});

test('patterns are not collections; ids are non-empty strings', async (t) => {
  const { client, tasks } = await connected(t);
  assert.throws(() => client.collection('tasks.*'), /not a pattern/);
  assert.equal(client.collection(NAME), tasks);
  await assert.rejects(tasks.update('', {}), TypeError);
});

test('with an outbox, mutations made offline are stored in it and settled by their change or its report', async (t) => {
  const { client, socket } = await connected(t);
  const OUT = 'tasks:out';
  const stored = [];
  let take = true;
  const tasks = client.collection(OUT, { outbox: async (wire) => { stored.push(wire); return take; } });
  const seen = events(tasks);
  tasks.subscribe();
  await socket.reply('sync_subscribe', { ...snapshot(2, record('a', 2, { n: 1 }), record('b', 1, { n: 0 })), collection: OUT });
  socket.drop(1006);

  const updated = tasks.update('a', { n: 2 });
  const inserted = tasks.insert({ n: 3 }, { id: 'c' });
  const onTop = tasks.update('a', { n: 4 }); // on top of a stored one: waits here for its version
  const removed = tasks.remove('b');
  await settle();
  const ids = stored.map((m) => m.mutation_id);
  assert.deepEqual(stored, [
    { collection: OUT, op: 'update', record_id: 'a', mutation_id: ids[0], data: { n: 2 }, base_version: 2 },
    { collection: OUT, op: 'insert', record_id: 'c', mutation_id: ids[1], data: { n: 3 } },
    { collection: OUT, op: 'delete', record_id: 'b', mutation_id: ids[2], base_version: 1 },
  ]);
  assert.deepEqual(shown(tasks), { a: { n: 4 }, c: { n: 3 } });
  assert.equal(tasks.pending, 4);

  // Back online: nothing stored is sent over the connection, and the one on top waits.
  const next = await FakeWebSocket.nth(2);
  next.open({ connected: { client: 'me2', user: 'alice' } });
  const resubscribe = await next.frame((f) => f.type === 'sync_subscribe');
  assert.equal(resubscribe.since, 2);
  await settle();
  assert.deepEqual(next.sent.filter((f) => f.type === 'sync_mutate'), []);
  // The outbox replayed two of them: their changes settle them, and the one on top goes with the new version.
  next.receive({ type: 'sync_changes', id: resubscribe.id, collection: OUT, version: 4, changes: [
    { op: 'update', record_id: 'a', version: 3, data: { n: 2 }, mutation_id: ids[0], by: 'alice', at: 7 },
    { op: 'insert', record_id: 'c', version: 4, data: { n: 3 }, mutation_id: ids[1], by: 'alice', at: 8 },
  ] });
  assert.deepEqual(await updated, { record_id: 'a', version: 3, mutation_id: ids[0] });
  assert.equal((await inserted).version, 4);
  const sent = await mutation(next, 0);
  assert.deepEqual([sent.record_id, sent.data, sent.base_version], ['a', { n: 4 }, 3]);
  // Its third was refused by the hub (someone changed b): the outbox's report rolls it back.
  assert.equal(tasks.outboxReport({ mutation: stored[2], error: { code: 'conflict', message: 'stale' }, current: record('b', 5, { n: 9 }) }), true);
  await assert.rejects(removed, (error) => error.code === 'conflict' && error.frame.current.version === 5);
  assert.equal(tasks.outboxReport({ mutation: stored[0], ack: { record_id: 'a', version: 3 } }), false, 'settled by its change already');
  next.receive({ type: 'ack', id: sent.id, record_id: 'a', version: 5, mutation_id: sent.mutation_id });
  assert.equal((await onTop).version, 5);
  assert.deepEqual(seen, ['update a@2→3', 'insert c@4 local', 'rollback delete b conflict {"n":9}']);
  assert.deepEqual(shown(tasks), { a: { n: 4 }, b: { n: 9 }, c: { n: 3 } });

  // An outbox that does not take it (no worker controls the page): it waits here as before.
  next.drop(1006);
  take = false;
  const kept = tasks.insert({ n: 6 }, { id: 'e' });
  await settle();
  assert.equal(stored.length, 4);
  const third = await FakeWebSocket.nth(3);
  third.open({ connected: { client: 'me3', user: 'alice' } });
  const late = await mutation(third, 0);
  assert.deepEqual([late.op, late.record_id], ['insert', 'e']);
  third.receive({ type: 'ack', id: late.id, record_id: 'e', version: 6, mutation_id: late.mutation_id });
  assert.equal((await kept).version, 6);
  assert.throws(() => client.collection('tasks:bad', { outbox: 'pwa' }), /outbox is a function/);
});
