// The receive-only SSE transport, against a scripted EventSource.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { EventSourceTransport, subscribeSSE } from '../chorus.js';
import { nextEvent } from '../test-helpers/wait.mjs';

/** Like the browser's: named events reach only listeners registered for that name. */
class FakeEventSource {
  static instances = [];
  readyState = 0;
  #listeners = new Map();

  constructor(url, init) {
    this.url = url;
    this.init = init;
    FakeEventSource.instances.push(this);
  }

  addEventListener(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, []);
    this.#listeners.get(type).push(listener);
  }

  close() {
    this.readyState = 2;
  }

  // --- the hub's side ---

  open() {
    this.readyState = 1;
    this.onopen?.({ type: 'open' });
  }

  send(type, frame, id = '') {
    const event = { type, data: typeof frame === 'string' ? frame : JSON.stringify(frame), lastEventId: id, target: this };
    for (const listener of this.#listeners.get(type) ?? []) listener(event);
  }

  fail(readyState) {
    this.readyState = readyState;
    this.onerror?.({ type: 'error' });
  }
}

beforeEach(() => {
  FakeEventSource.instances = [];
});

/** Lets pending promise callbacks run (nothing here waits on a timer). */
const settled = () => new Promise((resolve) => setImmediate(resolve));

const frame = (event, data) => ({ type: 'message', topic: 'chat:a', event, data, message_id: 'm', ts: 1 });

test('the stream URL carries every topic and the token', () => {
  const transport = subscribeSSE('http://hub.test/sse', ['chat:a', 'chat.*'], {}, { EventSource: FakeEventSource, token: 't0k' });
  const url = new URL(FakeEventSource.instances[0].url);
  assert.equal(url.pathname, '/sse');
  assert.deepEqual(url.searchParams.getAll('topic'), ['chat:a', 'chat.*']);
  assert.equal(url.searchParams.get('token'), 't0k');
  assert.equal(transport.state, 'connecting');
  FakeEventSource.instances[0].open();
  assert.equal(transport.state, 'open');
});

test('named events reach their handlers with (data, frame); "message" gets every event seen', () => {
  const typed = [];
  const all = [];
  const transport = subscribeSSE('http://hub.test/sse', 'chat:a', {
    typing: (data, message) => typed.push([data, message.topic]),
    message: (message) => all.push(message.event),
  }, { EventSource: FakeEventSource });
  const source = FakeEventSource.instances[0];
  source.send('typing', frame('typing', { user: 'bob' }), '17');
  source.send('message', frame('message', 'plain'), '18');
  source.send('unheard', frame('unheard', 1), '19'); // EventSource drops names nobody listens for
  assert.deepEqual(typed, [[{ user: 'bob' }, 'chat:a']]);
  assert.deepEqual(all, ['typing', 'message']);
  assert.equal(transport.lastEventId, '18');
  // A listener added later is wired to the EventSource too.
  const late = [];
  transport.on('unheard', (data) => late.push(data));
  source.send('unheard', frame('unheard', 2));
  assert.deepEqual(late, [2]);
});

test('data that is not JSON is reported as an error', async () => {
  const transport = subscribeSSE('http://hub.test/sse', 'chat:a', {}, { EventSource: FakeEventSource });
  const failure = nextEvent(transport, 'error');
  FakeEventSource.instances[0].send('message', 'not json');
  assert.equal((await failure)[0].code, 'invalid_frame');
});

test('event: disconnect with reconnect:false closes the stream (no browser retry)', () => {
  const disconnects = [];
  const transport = subscribeSSE('http://hub.test/sse', 'chat:a', { disconnect: (f) => disconnects.push(f.code) }, { EventSource: FakeEventSource });
  const source = FakeEventSource.instances[0];
  source.open();
  source.send('disconnect', { type: 'disconnect', code: 1000, reason: 'kicked', reconnect: false });
  assert.deepEqual(disconnects, [1000]);
  assert.equal(source.readyState, 2);
  assert.equal(transport.state, 'closed');
});

test('event: disconnect with reconnect:true leaves the retry (and Last-Event-ID) to the browser', () => {
  const transport = subscribeSSE('http://hub.test/sse', 'chat:a', {}, { EventSource: FakeEventSource });
  const source = FakeEventSource.instances[0];
  source.open();
  source.send('disconnect', { type: 'disconnect', code: 1001, reason: 'shutting down', reconnect: true });
  assert.equal(source.readyState, 1);
  assert.equal(FakeEventSource.instances.length, 1);
  transport.close();
});

test('4001 token expired with getToken: the stream is reopened with a fresh token', async () => {
  const tokens = ['old', 'new'];
  const transport = new EventSourceTransport('http://hub.test/sse', ['chat:a'], {
    EventSource: FakeEventSource,
    getToken: async () => tokens.shift(),
  });
  await settled(); // getToken resolves at once; the EventSource follows
  const first = FakeEventSource.instances[0];
  assert.equal(new URL(first.url).searchParams.get('token'), 'old');
  first.open();
  first.send('disconnect', { type: 'disconnect', code: 4001, reason: 'token expired', reconnect: true });
  assert.equal(first.readyState, 2, 'the expired stream is closed, not left to the browser');
  await settled();
  const second = FakeEventSource.instances[1];
  assert.equal(new URL(second.url).searchParams.get('token'), 'new');
  second.open();
  assert.equal(transport.state, 'open');
  transport.close();
});

test('an error with readyState CLOSED means the browser gave up: state closed', () => {
  const transport = subscribeSSE('http://hub.test/sse', 'chat:a', { error: () => {} }, { EventSource: FakeEventSource });
  const source = FakeEventSource.instances[0];
  source.open();
  source.fail(0); // dropped, the browser retries
  assert.equal(transport.state, 'connecting');
  source.fail(2);
  assert.equal(transport.state, 'closed');
});
