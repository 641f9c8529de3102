// useRealtimeSync rendered with react-test-renderer against a scripted hub.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeWebSocket, connectedClient } from '../test-helpers/fake-websocket.mjs';
import { importWithPackages, requirePackage } from '../test-helpers/debian-modules.mjs';

const React = requirePackage('react');
const { act, create } = requirePackage('react-test-renderer');
const { useRealtimeSync } = await importWithPackages(new URL('../react.js', import.meta.url));

globalThis.IS_REACT_ACT_ENVIRONMENT = true;
const h = React.createElement;
const hub = (fn) => act(async () => fn());

beforeEach(() => FakeWebSocket.reset());

const connected = (t) => connectedClient(t, { connected: { client: 'me' } });

test('useRealtimeSync: initialData, then the snapshot, changes to the handlers, mutations, status; unsubscribes on unmount', async (t) => {
  const { client, socket } = await connected(t);
  const calls = [];
  let api;
  function Tasks({ tag }) {
    api = useRealtimeSync({
      channel: client.channel('demo'), resource: 'tasks',
      initialData: [{ id: 'ssr', version: 1, data: { title: 'from the server page' } }],
      onInsert: (record) => calls.push(`${tag} insert ${record.id}`),
      onUpdate: (record, previous) => calls.push(`${tag} update ${record.id} ${previous.version}→${record.version}`),
      onDelete: (previous) => calls.push(`${tag} delete ${previous.id}`),
    });
    return h('ul', null, api.data.map((record) => h('li', { key: record.id }, record.data.title)));
  }
  let renderer;
  await act(async () => {
    renderer = create(h(Tasks, { tag: 'a' }));
  });
  assert.equal(api.status, 'loading');
  assert.deepEqual(renderer.root.findAllByType('li').map((li) => li.children[0]), ['from the server page']);
  const request = await socket.frame((f) => f.type === 'sync_subscribe');
  assert.equal(request.collection, 'demo:tasks');
  await hub(() => socket.receive({ type: 'sync_snapshot', id: request.id, collection: 'demo:tasks', version: 1, records: [{ id: 't1', version: 1, data: { title: 'One' } }] }));
  assert.equal(api.status, 'live');
  assert.deepEqual(renderer.root.findAllByType('li').map((li) => li.children[0]), ['One']);

  // The handlers may change on every render: the newest are called.
  await act(async () => renderer.update(h(Tasks, { tag: 'b' })));
  await hub(() => socket.receive({ type: 'sync_change', collection: 'demo:tasks', op: 'update', record_id: 't1', version: 2, data: { title: 'One!' } }));
  assert.deepEqual(calls, ['b update t1 1→2']);

  // insert shows at once (pending), then the hub confirms it.
  let inserted;
  await act(async () => {
    inserted = api.insert({ title: 'Two' }, { id: 't2' });
  });
  assert.deepEqual(api.data.map((record) => [record.id, record.pending === true]), [['t1', false], ['t2', true]]);
  const mutate = await socket.frame((f) => f.type === 'sync_mutate');
  await hub(() => {
    socket.receive({ type: 'sync_change', collection: 'demo:tasks', op: 'insert', record_id: 't2', version: 3, data: { title: 'Two' }, mutation_id: mutate.mutation_id });
    socket.receive({ type: 'ack', id: mutate.id, record_id: 't2', version: 3, mutation_id: mutate.mutation_id });
  });
  assert.equal((await inserted).version, 3);
  assert.deepEqual(api.data.map((record) => [record.id, record.pending === true]), [['t1', false], ['t2', false]]);
  await hub(() => socket.receive({ type: 'sync_change', collection: 'demo:tasks', op: 'delete', record_id: 't1', version: 4 }));
  assert.deepEqual(calls, ['b update t1 1→2', 'b insert t2', 'b delete t1']);
  assert.deepEqual(renderer.root.findAllByType('li').map((li) => li.children[0]), ['Two']);

  // update and remove are the collection's (base version: the one shown).
  await act(async () => {
    api.update('t2', { title: 'Deux' }).catch(() => {});
  });
  const update = await socket.frame((f) => f.type === 'sync_mutate' && f.op === 'update');
  assert.equal(update.base_version, 3);

  await act(async () => renderer.unmount());
  const unsubscribe = await socket.frame((f) => f.type === 'sync_unsubscribe');
  assert.equal(unsubscribe.collection, 'demo:tasks');
});

test('useRealtimeSync without a channel has no data and refuses mutations', async () => {
  let api;
  function Empty() {
    api = useRealtimeSync({ channel: null, initialData: [] });
    return null;
  }
  await act(async () => {
    create(h(Empty));
  });
  assert.deepEqual(api.data, []);
  assert.equal(api.status, 'idle');
  await assert.rejects(api.insert({}), /no channel/);
});
