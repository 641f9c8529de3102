// Sync collections (client.collection) against a real hub: snapshot and live changes between two
// clients, a conflicting update rolled back to the hub's record, mutations made offline
// replayed once after a reconnection that resumes from the collection's version, and a mutation
// whose ack was lost with the connection sent again and applied once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChorusClient } from '../chorus.js';
import { requirePackage } from '../test-helpers/debian-modules.mjs';
import { startHub } from '../test-helpers/hub.mjs';
import { nextEvent, stateReached, within } from '../test-helpers/wait.mjs';

const NodeWebSocket = requirePackage('ws');

/**
 * node-ws, remembering each socket so a test can cut the connection under the client; with
 * `loseNextMutationAck`, the next ack of a sync mutation is lost with its connection.
 */
class CuttableWebSocket extends NodeWebSocket {
  static last = null;
  static loseNextMutationAck = false;
  constructor(...args) {
    super(...args);
    CuttableWebSocket.last = this;
  }

  set onmessage(handler) {
    super.onmessage = (event) => {
      if (CuttableWebSocket.loseNextMutationAck && typeof event.data === 'string') {
        const frame = JSON.parse(event.data);
        if (frame.type === 'ack' && frame.mutation_id !== undefined) {
          CuttableWebSocket.loseNextMutationAck = false;
          this.terminate();
          return;
        }
      }
      handler(event);
    };
  }

  get onmessage() {
    return super.onmessage;
  }
}

let hub;
before(async () => {
  hub = await startHub({ args: ['--namespaces', JSON.stringify({ tasks: { sync: true } })] });
});
after(async () => {
  await hub?.stop();
});

let collections = 0;
const collectionName = () => `tasks:js-${process.pid}-${++collections}`;

function connect(t, options = {}) {
  const client = new ChorusClient(hub.ws, { WebSocket: CuttableWebSocket, heartbeatInterval: 0, backoff: { base: 50, cap: 200 }, requestTimeout: 5000, ...options });
  t.after(() => client.close());
  return client;
}

const byId = (entries) => JSON.stringify(entries.sort(([a], [b]) => (a < b ? -1 : 1)));

/** Resolves once `collection` shows `expected` (id → data, pending or not; in any order). */
function shows(collection, expected, what) {
  const now = () => byId(collection.list().map((r) => [r.id, r.data]));
  const wanted = byId(Object.entries(expected));
  if (now() === wanted) return Promise.resolve();
  return within(new Promise((resolve) => {
    const check = () => now() === wanted && (collection.off('sync', check), resolve());
    collection.on('sync', check);
  }), 5000, what ?? `records ${wanted}, not ${now()}`);
}

test('two clients: snapshot, optimistic insert, live changes to both, update and remove', async (t) => {
  const name = collectionName();
  const alice = connect(t).collection(name);
  const bob = connect(t).collection(name);
  assert.deepEqual(await alice.subscribe(), []);
  await bob.subscribe();
  assert.equal(alice.status, 'live');

  const inserted = nextEvent(bob, 'insert');
  const ack = alice.insert({ title: 'Write tests', done: false }, { id: 't1' });
  // Shown at once, before the hub answered.
  assert.deepEqual(alice.get('t1'), { id: 't1', version: null, data: { title: 'Write tests', done: false }, updated_at: null, updated_by: null, pending: true });
  assert.equal((await ack).version, 1);
  const [record, change] = await inserted;
  assert.deepEqual([record.id, record.version, record.data], ['t1', 1, { title: 'Write tests', done: false }]);
  assert.equal(change.local, false);
  assert.equal(alice.get('t1').pending, undefined);

  await bob.update('t1', { title: 'Write tests', done: true });
  await shows(alice, { t1: { title: 'Write tests', done: true } });
  await alice.remove('t1');
  await shows(bob, {});
  assert.equal(alice.version, 3);
  assert.equal(bob.version, 3);
});

test('a conflicting update is rolled back to the hub record', async (t) => {
  const name = collectionName();
  const alice = connect(t).collection(name);
  const bob = connect(t).collection(name);
  await Promise.all([alice.subscribe(), bob.subscribe()]);
  await alice.insert({ title: 'Draft' }, { id: 'doc' });
  await shows(bob, { doc: { title: 'Draft' } });

  // Bob's update reaches the hub first; Alice made hers against version 1 too.
  const cutOff = connect(t);
  await cutOff.collection(name).update('doc', { title: 'Bob' }, { baseVersion: 1 });
  const rolledBack = nextEvent(alice, 'rollback');
  const refused = alice.update('doc', { title: 'Alice' }, { baseVersion: 1 });
  await assert.rejects(refused, (error) => error.code === 'conflict' && error.frame.current.data.title === 'Bob');
  const [rollback] = await rolledBack;
  assert.equal(rollback.op, 'update');
  assert.deepEqual(rollback.current.data, { title: 'Bob' });
  await shows(alice, { doc: { title: 'Bob' } });
  await shows(bob, { doc: { title: 'Bob' } });
  // Last write wins when asked for.
  await alice.update('doc', { title: 'Alice wins' }, { baseVersion: null });
  await shows(bob, { doc: { title: 'Alice wins' } });
});

test('offline mutations are replayed once on reconnect; the collection resumes with changes, not a snapshot', async (t) => {
  const name = collectionName();
  const other = connect(t).collection(name);
  const client = connect(t); // the last socket made: the one cut below
  const mine = client.collection(name);
  await Promise.all([mine.subscribe(), other.subscribe()]);
  await mine.insert({ n: 1 }, { id: 'a' });
  await shows(other, { a: { n: 1 } });
  const replies = [];
  client.on('frame', (frame) => frame.collection === name && (frame.type === 'sync_snapshot' || frame.type === 'sync_changes') && replies.push(frame));

  CuttableWebSocket.last.terminate();
  await stateReached(client, 'reconnecting');
  assert.equal(mine.status, 'offline');
  // Made while offline: shown at once, sent once connected.
  const queued = [mine.insert({ n: 2 }, { id: 'b' }), mine.update('a', { n: 10 }), mine.update('b', { n: 20 })];
  assert.equal(mine.pending, 3);
  assert.deepEqual(Object.fromEntries(mine.list().map((r) => [r.id, r.data])), { a: { n: 10 }, b: { n: 20 } });
  // Meanwhile someone else changes the collection.
  await other.insert({ n: 3 }, { id: 'c' });

  const acks = await Promise.all(queued);
  assert.deepEqual(acks.map((ack) => ack.version), [3, 4, 5]);
  await shows(other, { a: { n: 10 }, c: { n: 3 }, b: { n: 20 } });
  await shows(mine, { a: { n: 10 }, b: { n: 20 }, c: { n: 3 } });
  assert.equal(mine.version, 5);
  assert.equal(mine.pending, 0);
  // Resumed from version 1: the changes after it (or none yet, if it was back before 'c'), no snapshot.
  assert.deepEqual(replies.map((frame) => frame.type), ['sync_changes']);
  assert.equal(mine.status, 'live');
});

test('a mutation whose ack is lost with the connection is sent again with its id and applied once', async (t) => {
  const name = collectionName();
  const watcher = connect(t).collection(name);
  await watcher.subscribe();
  const inserts = [];
  watcher.on('insert', (record) => inserts.push(record.id));
  const client = connect(t);
  const mine = client.collection(name);
  await mine.subscribe();

  CuttableWebSocket.loseNextMutationAck = true;
  const ack = await mine.insert({ n: 1 }, { id: 'once' });
  assert.equal(CuttableWebSocket.loseNextMutationAck, false, 'the first ack was lost');
  assert.equal(client.stats.reconnections, 1);
  assert.equal(ack.version, 1); // the hub's answer to the retry: the first result
  await mine.insert({ n: 2 }, { id: 'two' });
  await shows(watcher, { once: { n: 1 }, two: { n: 2 } });
  assert.deepEqual(inserts, ['once', 'two']);
  assert.equal(watcher.version, 2);
  assert.equal(mine.version, 2);
});
