// A scripted stand-in for the browser WebSocket: the test plays the hub.
import { ChorusClient, EventEmitter, SUBPROTOCOL, decodeBinaryFrame } from '../chorus.js';
import { within } from './wait.mjs';

export class FakeWebSocket {
  static instances = [];
  static #created = new EventEmitter();

  static reset() {
    FakeWebSocket.instances = [];
  }

  /** The n-th socket the client created (1-based), now or when it is created. */
  static nth(n, timeout = 5000) {
    if (FakeWebSocket.instances.length >= n) return Promise.resolve(FakeWebSocket.instances[n - 1]);
    const created = new Promise((resolve) => {
      const listener = () => {
        if (FakeWebSocket.instances.length < n) return;
        FakeWebSocket.#created.off('created', listener);
        resolve(FakeWebSocket.instances[n - 1]);
      };
      FakeWebSocket.#created.on('created', listener);
    });
    return within(created, timeout, `WebSocket #${n}`);
  }

  readyState = 0;
  binaryType = 'blob';
  protocol = ''; // the subprotocol the hub selected, once open
  sent = []; // frames the client sent, parsed (a binary frame: its header's fields, `data` its bytes, `binary: true`)
  closedWith = null; // {code, reason} when the client closed it
  #sentEvents = new EventEmitter();

  constructor(url, protocols = []) {
    this.url = url;
    this.protocols = typeof protocols === 'string' ? [protocols] : [...protocols];
    FakeWebSocket.instances.push(this);
    FakeWebSocket.#created.emit('created');
  }

  get searchParams() {
    return new URL(this.url).searchParams;
  }

  send(text) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    const frame = typeof text === 'string' ? JSON.parse(text) : { ...decodeBinaryFrame(text), binary: true };
    this.sent.push(frame);
    this.#sentEvents.emit('sent', frame);
  }

  close(code = 1005, reason = '') {
    if (this.readyState >= 2) return;
    this.closedWith = { code, reason };
    this.readyState = 2;
    queueMicrotask(() => this.#closed(code, reason));
  }

  // --- the hub's side ---

  /**
   * Accepts the connection as a v1.1 hub does when the client offered `chorus.v1.1`: selects
   * it and sends `connected` (with `connected`'s fields; null holds the frame back, for the test
   * to send). `protocol: ''` plays a v1 hub, which selects nothing and sends nothing first.
   */
  open({ protocol = this.protocols.includes(SUBPROTOCOL) ? SUBPROTOCOL : '', connected = {} } = {}) {
    this.protocol = protocol;
    this.readyState = 1;
    this.onopen?.({ type: 'open' });
    if (protocol === SUBPROTOCOL && connected) {
      this.receive({ type: 'connected', client: `fake-${FakeWebSocket.instances.indexOf(this) + 1}`, protocol: '1.1', ...connected });
    }
  }

  receive(frame) {
    this.onmessage?.({ type: 'message', data: JSON.stringify(frame) });
  }

  /** A binary frame from the hub (`bytes`: a Uint8Array), as a browser delivers it with binaryType 'arraybuffer'. */
  receiveBinary(bytes) {
    this.onmessage?.({ type: 'message', data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  /** The connection ends without a close handshake (1006) or with the given code. */
  drop(code = 1006, reason = '') {
    this.#closed(code, reason);
  }

  /** What the hub does when it ends a connection: a `disconnect` frame, then the close. */
  disconnect(code, reason, reconnect) {
    this.receive({ type: 'disconnect', code, reason, reconnect });
    this.drop(code, reason);
  }

  /** The first frame sent that satisfies `predicate`, now or when it is sent. */
  frame(predicate, timeout = 5000) {
    const found = this.sent.find(predicate);
    if (found) return Promise.resolve(found);
    let listener;
    const later = new Promise((resolve) => {
      listener = (frame) => predicate(frame) && resolve(frame);
      this.#sentEvents.on('sent', listener);
    });
    return within(later, timeout, 'a frame from the client').finally(() => this.#sentEvents.off('sent', listener));
  }

  /** Answers the first frame of `type` (optionally on `topic`) with `reply` plus its id. */
  async reply(type, reply, topic) {
    const request = await this.frame((frame) => frame.type === type && (topic === undefined || frame.topic === topic));
    this.receive({ ...reply, id: request.id });
    return request;
  }

  #closed(code, reason) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ type: 'close', code, reason, wasClean: code !== 1006 });
  }
}

/**
 * A ChorusClient on the first FakeWebSocket, opened by the scripted hub with `connected` (the
 * fields of v1.1's first frame); `options` go to the client. Closed when the test ends.
 */
export async function connectedClient(t, { options = {}, connected = {} } = {}) {
  const client = new ChorusClient('ws://hub.test/ws', { WebSocket: FakeWebSocket, heartbeatInterval: 0, backoff: { base: 2, cap: 8 }, ...options });
  t.after(() => client.close());
  const socket = await FakeWebSocket.nth(1);
  socket.open({ connected });
  return { client, socket };
}
