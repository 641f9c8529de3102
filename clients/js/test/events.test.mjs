// publishEvent (docs/protocol.md, "Events") against the shared vectors (Tests/vectors/event-publish.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChorusClient } from '../chorus.js';
import { FakeWebSocket } from '../test-helpers/fake-websocket.mjs';

const vectors = JSON.parse(readFileSync(new URL('../../../Tests/vectors/event-publish.json', import.meta.url), 'utf8'));

async function connected(t) {
  const client = new ChorusClient('ws://hub.test/ws', { WebSocket: FakeWebSocket, heartbeatInterval: 0, requestTimeout: 500 });
  t.after(() => client.close());
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  return { client, socket };
}

test('publishEvent sends each vector frame, resolves with the receipt and rejects with the violations', async (t) => {
  const { client, socket } = await connected(t);
  const replies = Object.fromEntries(vectors.replies.map((r) => [r.name, r.frame]));
  for (const vector of vectors.requests) {
    const { type, data, options } = vector.call;
    const request = client.publishEvent(type, data, options);
    const sent = socket.sent.at(-1);
    assert.deepEqual(sent, { ...vector.frame, id: sent.id }, vector.name);
    socket.receive({ ...replies.receipt, id: sent.id });
    const receipt = await request;
    assert.equal(receipt.sequence, 42);
    assert.equal(receipt.duplicate, false);
  }
  const failing = client.publishEvent('chat.typing', { room: 5 });
  const sent = socket.sent.at(-1);
  socket.receive({ ...replies.schema_violation, id: sent.id });
  await assert.rejects(failing, (error) => error.code === 'invalid_event' && error.frame.violations[0].instance_location === '/room');
});
