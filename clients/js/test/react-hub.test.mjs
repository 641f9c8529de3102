// The React hooks against a real hub process (CHORUS_BIN), with Debian's node-react,
// node-react-test-renderer and node-ws: two rendered apps chat, and one sees the hub go away.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { importWithPackages, requirePackage } from '../test-helpers/debian-modules.mjs';
import { postJSON, startHub } from '../test-helpers/hub.mjs';

const React = requirePackage('react');
const { act, create } = requirePackage('react-test-renderer');
const WebSocket = requirePackage('ws');
const { ConnectionStatus, useChorus, useRealtimeChannel } = await importWithPackages(new URL('../react.js', import.meta.url));

globalThis.IS_REACT_ACT_ENVIRONMENT = true;
const h = React.createElement;
const TOPIC = 'chat:react-hub-room';

let hub;
before(async () => {
  hub = await startHub();
});
after(async () => {
  await hub?.stop();
});

/** Lets timers and sockets run inside act() until `predicate` holds, or fails after `timeout` ms. */
async function until(predicate, what, timeout = 5000) {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await act(async () => new Promise((resolve) => setTimeout(resolve, 20)));
  }
}

/** A chat participant: connection status, the room's last message, and what its handler saw. */
function makeApp(received) {
  const app = { api: null, channel: null };
  app.Component = function Chat() {
    app.api = useChorus(hub.ws, { WebSocket, shared: false, heartbeatInterval: 0, backoff: { base: 50, cap: 200 } });
    app.channel = useRealtimeChannel(app.api.client, TOPIC, { msg: (data) => received.push(data) });
    return h('div', null, h(ConnectionStatus, { status: app.api.status }), h('p', null, app.channel.lastMessage?.data?.text ?? ''));
  };
  return app;
}

async function subscribers() {
  const response = await fetch(`${hub.http}/api/topics`);
  const { topics } = await response.json();
  return topics.find((entry) => entry.topic === TOPIC)?.subscribers ?? 0;
}

test('two rendered apps chat through a real hub; status follows the connection', async () => {
  const aliceSaw = [];
  const bobSaw = [];
  const alice = makeApp(aliceSaw);
  const bob = makeApp(bobSaw);
  let aliceView;
  let bobView;
  await act(async () => {
    aliceView = create(h(alice.Component));
    bobView = create(h(bob.Component));
  });
  await until(() => alice.api.isConnected && bob.api.isConnected, 'both apps to connect');
  assert.equal(aliceView.root.findByProps({ role: 'status' }).props['data-status'], 'connected');

  let count = 0;
  for (let tries = 0; tries < 100 && (count = await subscribers()) < 2; tries += 1) {
    await act(async () => new Promise((resolve) => setTimeout(resolve, 20)));
  }
  assert.equal(count, 2, 'the hub sees both subscriptions');

  const ack = await act(async () => alice.channel.publish('msg', { text: 'hello from alice' }));
  assert.ok(ack.message_id, 'publish is acknowledged');
  await until(() => bobSaw.length === 1, "bob's handler");
  assert.deepEqual(bobSaw, [{ text: 'hello from alice' }]);
  assert.equal(bobView.root.findByType('p').children.join(''), 'hello from alice');

  // A backend publish reaches both apps too.
  await postJSON(`${hub.http}/api/publish`, { topic: TOPIC, event: 'msg', data: { text: 'from the backend' } });
  await until(() => aliceSaw.length === 2 && bobSaw.length === 2, 'the backend message in both apps');
  assert.equal(aliceView.root.findByType('p').children.join(''), 'from the backend');

  // The hub goes away: the status badge shows the client trying to get back.
  await hub.stop();
  await until(() => ['reconnecting', 'connecting'].includes(bob.api.status), 'bob to notice the hub is gone');
  assert.notEqual(bobView.root.findByProps({ role: 'status' }).props['data-status'], 'connected');

  await act(async () => {
    aliceView.unmount();
    bobView.unmount();
  });
});
