// useRealtimePresence and PresenceAvatars, rendered with react-test-renderer against a scripted hub.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeWebSocket, connectedClient } from '../test-helpers/fake-websocket.mjs';
import { importWithPackages, requirePackage } from '../test-helpers/debian-modules.mjs';

const React = requirePackage('react');
const { act, create } = requirePackage('react-test-renderer');
const { PresenceAvatars, PRESENCE_APPEARANCE, colourOf, initialsOf, useRealtimePresence } =
  await importWithPackages(new URL('../react.js', import.meta.url));

globalThis.IS_REACT_ACT_ENVIRONMENT = true;
const h = React.createElement;
const TOPIC = 'room:a';

beforeEach(() => FakeWebSocket.reset());

const connected = (t) => connectedClient(t, { connected: { client: 'me' } });

const member = (client, user, meta = {}, joinedAt = 1) => ({ user, client, meta, joined_at: joinedAt });
const hub = (fn) => act(async () => fn());

test('useRealtimePresence joins as the user, follows the members, updates the status, leaves on unmount', async (t) => {
  const { client, socket } = await connected(t);
  let api;
  function Room({ user }) {
    api = useRealtimePresence({ channel: client.channel(TOPIC), user });
    return h(PresenceAvatars, { users: api.users, me: 'alice' });
  }
  let renderer;
  await act(async () => {
    renderer = create(h(Room, { user: { name: 'Alice Liddell', status: 'online' } }));
  });
  await hub(() => socket.reply('presence_join', {
    type: 'presence_state', topic: TOPIC, count: 2, users: 2,
    members: [member('me', 'alice', { name: 'Alice Liddell', status: 'online' }), member('c1', 'bob', { name: 'Bob', status: 'busy' }, 2)],
  }));
  const join = socket.sent.find((f) => f.type === 'presence_join');
  assert.deepEqual(join.meta, { name: 'Alice Liddell', status: 'online' });
  assert.equal(api.onlineCount, 2);
  assert.deepEqual(api.users.map((u) => u.key), ['alice', 'bob']);
  const avatars = renderer.root.findAll((node) => node.props['data-user'] !== undefined && typeof node.type === 'string');
  assert.deepEqual(avatars.map((a) => [a.props['data-user'], a.props['data-status'], a.children[0]]), [['alice', 'online', 'AL'], ['bob', 'busy', 'BO']]);
  assert.match(avatars[0].props.title, /\(you\)/);

  // A second tab of Bob's, and Carol: Bob is still one user.
  await hub(() => socket.receive({ type: 'presence_diff', topic: TOPIC, joins: [member('c2', 'bob', { name: 'Bob', status: 'busy' }, 3), member('c3', 'carol', {}, 4)], leaves: [] }));
  assert.equal(api.onlineCount, 3);
  assert.equal(api.users[1].connections.length, 2);

  const updated = hub(() => api.updateStatus('away'));
  await hub(() => socket.reply('presence_update', { type: 'ack' }));
  await updated;
  assert.deepEqual(socket.sent.find((f) => f.type === 'presence_update').meta, { name: 'Alice Liddell', status: 'away' });

  // A new user prop is an update, not a rejoin.
  await act(async () => renderer.update(h(Room, { user: { name: 'Alice', status: 'online' } })));
  assert.equal(socket.sent.filter((f) => f.type === 'presence_join').length, 1);
  assert.deepEqual(socket.sent.filter((f) => f.type === 'presence_update').at(-1).meta, { name: 'Alice', status: 'online' });

  await act(async () => renderer.unmount());
  assert.ok(socket.sent.some((f) => f.type === 'presence_leave' && f.topic === TOPIC), 'unmount leaves');
});

test('PresenceAvatars: initials, colours, status dots and +N past max', async () => {
  const users = ['Ada Lovelace', 'grace', 'Linus', 'Ken'].map((name, i) => ({
    key: `u${i}`, user: `u${i}`, meta: { name, status: ['online', 'away', 'busy', 'online'][i], colour: i === 0 ? '#123456' : undefined }, connections: [],
  }));
  let renderer;
  await act(async () => {
    renderer = create(h(PresenceAvatars, { users, max: 3 }));
  });
  const items = renderer.root.findAllByProps({ role: 'listitem' });
  assert.deepEqual(items.map((i) => i.children[0]), ['AL', 'GR', 'LI', '+1']);
  assert.equal(items[0].props.style.background, '#123456');
  assert.equal(items[1].props.style.background, colourOf('u1'));
  const dot = items[2].findByProps({ 'aria-hidden': true });
  assert.equal(dot.props.style.background, PRESENCE_APPEARANCE.busy.color);
  assert.equal(initialsOf(''), '?');
  assert.equal(colourOf('x'), colourOf('x'));
});

test('useRealtimePresence with a limit: onlineCount is the hub\'s count while the list comes in pages', async (t) => {
  const { client, socket } = await connected(t);
  let api;
  function Room() {
    api = useRealtimePresence({ channel: client.channel(TOPIC), user: { name: 'Me' }, limit: 1 });
    return null;
  }
  await act(async () => {
    create(h(Room));
  });
  const join = await hub(() => socket.reply('presence_join', { type: 'presence_state', topic: TOPIC, count: 3, users: 3, next: '1:c1', members: [member('c1', 'bob')] }));
  assert.equal(join.limit, 1);
  assert.equal(api.users.length, 1);
  assert.equal(api.onlineCount, 3, 'the hub counts every user, listed or not yet');
  await hub(() => socket.reply('presence', { type: 'presence_state', topic: TOPIC, count: 3, users: 3, members: [member('c2', 'carol', {}, 2), member('me', 'alice', {}, 3)] }));
  assert.equal(api.users.length, 3);
  assert.equal(api.onlineCount, 3);
});
