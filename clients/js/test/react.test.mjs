// React hooks and components, rendered with react-test-renderer (Debian's node-react*).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeWebSocket } from '../test-helpers/fake-websocket.mjs';
import { importWithPackages, requirePackage } from '../test-helpers/debian-modules.mjs';

const React = requirePackage('react');
const { act, create } = requirePackage('react-test-renderer');
const { ConnectionStatus, RealtimeIndicator, STATUS_APPEARANCE, useChorus, useRealtimeChannel, useWebSocket } =
  await importWithPackages(new URL('../react.js', import.meta.url));

globalThis.IS_REACT_ACT_ENVIRONMENT = true; // React 18: updates in tests are wrapped in act()
const h = React.createElement;
const OPTIONS = { WebSocket: FakeWebSocket, heartbeatInterval: 0, backoff: { base: 2, cap: 8 }, shared: false };

beforeEach(() => FakeWebSocket.reset());

/** Renders `element` inside act(); returns the renderer. */
async function render(element) {
  let renderer;
  await act(async () => {
    renderer = create(element);
  });
  return renderer;
}

/** Runs `fn` (socket events) inside act(), so React applies the updates it causes. */
const hub = (fn) => act(async () => fn());

const textOf = (node) => (typeof node === 'string' ? node : (node.children ?? []).map(textOf).join(''));

test('ConnectionStatus shows a colour and a label for every state', async () => {
  for (const [status, { color, label }] of Object.entries(STATUS_APPEARANCE)) {
    const renderer = await render(h(ConnectionStatus, { status }));
    const root = renderer.root.findByProps({ role: 'status' });
    assert.equal(root.props['data-status'], status);
    assert.equal(textOf(renderer.toJSON()), label);
    assert.equal(root.findByProps({ 'aria-hidden': true }).props.style.background, color);
  }
  const custom = await render(h(ConnectionStatus, { status: 'error', labels: { error: 'Hors ligne' }, colors: { error: 'black' } }));
  assert.equal(textOf(custom.toJSON()), 'Hors ligne');
  assert.equal(custom.root.findByProps({ 'aria-hidden': true }).props.style.background, 'black');
});

test('RealtimeIndicator is a live badge only while connected', async () => {
  const live = await render(h(RealtimeIndicator, { status: 'connected' }));
  assert.equal(textOf(live.toJSON()), 'Live');
  assert.equal(live.root.findByProps({ role: 'status' }).props['data-live'], true);
  for (const status of ['connecting', 'reconnecting', 'disconnected', 'error']) {
    const offline = await render(h(RealtimeIndicator, { status, offlineLabel: 'Paused' }));
    assert.equal(textOf(offline.toJSON()), 'Paused');
    assert.equal(offline.root.findByProps({ role: 'status' }).props['data-live'], false);
  }
});

test('useChorus follows the connection: connecting → connected → reconnecting; unmount closes an own client', async () => {
  const seen = [];
  let api;
  function App() {
    api = useChorus('ws://hub.test/ws', OPTIONS);
    seen.push(api.status);
    return h(ConnectionStatus, { client: api.client });
  }
  const renderer = await render(h(App));
  assert.equal(api.status, 'connecting');
  assert.equal(api.isConnected, false);
  const socket = await FakeWebSocket.nth(1);
  await hub(() => socket.open());
  assert.equal(api.status, 'connected');
  assert.equal(api.isConnected, true);
  assert.equal(textOf(renderer.toJSON()), 'Connected');

  const reply = api.send({ type: 'ping', timestamp: 1 });
  await socket.reply('ping', { type: 'pong', timestamp: 1 });
  assert.equal((await reply).type, 'pong');

  await hub(() => socket.drop(1006));
  assert.equal(api.status, 'reconnecting');
  assert.equal(textOf(renderer.toJSON()), 'Reconnecting…');
  // An own client connects from an effect (StrictMode-safe), so the first render sees it idle.
  assert.deepEqual([...new Set(seen)], ['disconnected', 'connecting', 'connected', 'reconnecting']);

  const second = await FakeWebSocket.nth(2);
  await act(async () => renderer.unmount());
  assert.equal(api.client.state, 'disconnected');
  assert.equal(second.closedWith.code, 1000);
  assert.equal(useWebSocket, useChorus);
});

test('useChorus shares one client per URL between components by default', async () => {
  const clients = [];
  function Probe() {
    clients.push(useChorus('ws://shared-react.test/ws', { ...OPTIONS, shared: true }).client);
    return null;
  }
  const renderer = await render(h('div', null, h(Probe), h(Probe)));
  assert.equal(clients[0], clients[1]);
  await act(async () => renderer.unmount());
  clients[0].close();
});

test('useRealtimeChannel: subscribes on mount, calls event handlers, exposes lastMessage and publish', async () => {
  const client = (await import('../chorus.js')).getClient('ws://hub.test/ws', OPTIONS);
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  const typing = [];
  let api;
  function Room({ onTyping }) {
    api = useRealtimeChannel(client, 'chat:room1', { typing: onTyping });
    return h('p', null, api.lastMessage ? JSON.stringify(api.lastMessage.data) : 'nothing yet');
  }
  const renderer = await render(h(Room, { onTyping: (data) => typing.push(['first handler', data]) }));
  await socket.reply('subscribe', { type: 'subscribed', topic: 'chat:room1' });

  await hub(() => socket.receive({ type: 'message', topic: 'chat:room1', event: 'typing', data: { user: 'bob' }, message_id: 'm1', ts: 1 }));
  assert.deepEqual(typing, [['first handler', { user: 'bob' }]]);
  assert.equal(textOf(renderer.toJSON()), '{"user":"bob"}');

  // New handlers on re-render are used without resubscribing.
  await act(async () => renderer.update(h(Room, { onTyping: (data) => typing.push(['second handler', data]) })));
  await hub(() => socket.receive({ type: 'message', topic: 'chat:room1', event: 'typing', data: { user: 'eve' }, message_id: 'm2', ts: 2 }));
  assert.deepEqual(typing[1], ['second handler', { user: 'eve' }]);
  assert.equal(socket.sent.filter((frame) => frame.type === 'subscribe').length, 1);

  const ack = api.publish('msg', { text: 'hi' });
  const request = await socket.reply('publish', { type: 'ack', message_id: 'm3' });
  assert.deepEqual([request.topic, request.event], ['chat:room1', 'msg']);
  assert.equal((await ack).message_id, 'm3');

  await act(async () => renderer.unmount());
  await socket.reply('unsubscribe', { type: 'unsubscribed', topic: 'chat:room1' });
  client.close();
});

test('components on the same channel share one subscription; the last to unmount ends it', async () => {
  const client = (await import('../chorus.js')).getClient('ws://hub.test/ws', OPTIONS);
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  function Listener() {
    useRealtimeChannel(client, 'chat:shared', {});
    return null;
  }
  const first = await render(h(Listener));
  const second = await render(h(Listener));
  await socket.reply('subscribe', { type: 'subscribed', topic: 'chat:shared' });
  await act(async () => first.unmount());
  assert.equal(socket.sent.filter((frame) => frame.type === 'unsubscribe').length, 0);
  assert.equal(client.channel('chat:shared').state, 'subscribed');
  await act(async () => second.unmount());
  await socket.reply('unsubscribe', { type: 'unsubscribed', topic: 'chat:shared' });
  assert.equal(client.channel('chat:shared').state, 'unsubscribed');
  assert.equal(socket.sent.filter((frame) => frame.type === 'subscribe').length, 1);
  client.close();
});
