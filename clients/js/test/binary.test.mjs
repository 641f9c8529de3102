// Binary messages (docs/protocol.md, "Binary frames"): the shared vectors, publishing
// ArrayBuffer / Uint8Array / Blob as binary frames, and delivering binary data as Uint8Array
// whether it came as a binary frame or as base64 JSON.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeBinaryFrame, encodeBinaryFrame } from '../chorus.js';
import { FakeWebSocket, connectedClient } from '../test-helpers/fake-websocket.mjs';
import { nextEvent } from '../test-helpers/wait.mjs';

const vectors = JSON.parse(readFileSync(new URL('../../../Tests/vectors/binary-frames.json', import.meta.url), 'utf8'));
const hex = (text) => Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));

beforeEach(() => FakeWebSocket.reset());

const connected = (t, options = {}) => connectedClient(t, { options });

test('the shared vectors encode and decode byte for byte', () => {
  for (const vector of vectors.valid) {
    assert.deepEqual(encodeBinaryFrame(vector.header, hex(vector.data)), hex(vector.frame), vector.name);
    const { data, ...header } = decodeBinaryFrame(hex(vector.frame));
    assert.deepEqual(header, vector.header, vector.name);
    assert.deepEqual(data, hex(vector.data), vector.name);
  }
});

test('malformed binary frames throw invalid_frame, never anything else', () => {
  for (const vector of vectors.invalid.filter((each) => !each.frame.startsWith('01') || each.error.includes('header'))) {
    assert.throws(() => decodeBinaryFrame(hex(vector.frame)), { code: 'invalid_frame' }, vector.name);
  }
});

test('Uint8Array, ArrayBuffer, a typed-array view and a Blob publish as binary frames', async (t) => {
  const { client, socket } = await connected(t);
  const bytes = Uint8Array.of(0, 1, 255);
  const sources = [bytes, bytes.buffer.slice(0), new Uint16Array(Uint8Array.of(0, 1, 255, 7).buffer).subarray(0, 1), new Blob([bytes])];
  const expected = [bytes, bytes, Uint8Array.of(0, 1), bytes];
  for (const [index, data] of sources.entries()) {
    const acked = client.publish('chat:room1', 'blob', data, { idempotencyKey: `k${index}` });
    const sent = await socket.frame((frame) => frame.idempotency_key === `k${index}`);
    assert.equal(sent.binary, true);
    assert.equal(sent.type, 'publish');
    assert.equal(sent.topic, 'chat:room1');
    assert.equal(sent.event, 'blob');
    assert.deepEqual(sent.data, expected[index]);
    socket.receive({ type: 'ack', id: sent.id, message_id: `m${index}` });
    assert.equal((await acked).message_id, `m${index}`);
  }
  // JSON stays JSON.
  const jsonAcked = client.publish('chat:room1', 'msg', { text: 'hi' });
  const json = await socket.frame((frame) => frame.event === 'msg');
  assert.equal(json.binary, undefined);
  assert.deepEqual(json.data, { text: 'hi' });
  socket.receive({ type: 'ack', id: json.id, message_id: 'm-json' });
  await jsonAcked;
});

test('binary: true asks the hub for binary frames; the default does not', async (t) => {
  const { socket } = await connected(t, { binary: true });
  assert.equal(socket.searchParams.get('binary'), '1');
  FakeWebSocket.reset();
  const plain = await connected(t);
  assert.equal(plain.socket.searchParams.get('binary'), null);
});

test('binary data arrives as Uint8Array from binary frames and from base64 JSON alike', async (t) => {
  const { client, socket } = await connected(t, { binary: true });
  const channel = client.channel('chat:room1');
  const confirmed = channel.subscribe();
  await socket.reply('subscribe', { type: 'subscribed', topic: 'chat:room1' }, 'chat:room1');
  await confirmed;

  const hubVector = vectors.valid.find((vector) => vector.direction === 'hub');
  let delivered = nextEvent(channel, 'blob');
  socket.receiveBinary(hex(hubVector.frame));
  let [data, message] = await delivered;
  assert.ok(data instanceof Uint8Array);
  assert.deepEqual(data, hex(hubVector.data));
  assert.equal(message.offset, 3);

  delivered = nextEvent(channel, 'blob');
  socket.receive({ type: 'message', topic: 'chat:room1', event: 'blob', data: 'AAECAw==', encoding: 'base64', message_id: 'm2', ts: 1 });
  [data] = await delivered;
  assert.deepEqual(data, Uint8Array.of(0, 1, 2, 3));
});

test('a malformed binary frame from the hub is an error event, and the connection goes on', async (t) => {
  const { client, socket } = await connected(t);
  const failed = nextEvent(client, 'error');
  socket.receiveBinary(Uint8Array.of(1, 0, 9, 0x7b));
  const [error] = await failed;
  assert.equal(error.code, 'invalid_frame');
  assert.equal(client.state, 'connected');
});
