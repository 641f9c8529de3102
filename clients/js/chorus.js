// Chorus browser client: one ES module, no dependencies, no build step.
//
// Speaks the Chorus wire protocol v1.1 (docs/protocol.md) over one WebSocket shared by every
// channel, and offers a receive-only Server-Sent Events transport. Runs in browsers and, with
// an injected WebSocket/EventSource implementation, in Node.

const OPEN = 1; // WebSocket.OPEN, spelled out so an injected implementation need not define it

/**
 * The WebSocket subprotocol that asks the hub for protocol v1.1: `connected` first, and a
 * machine-readable `reason` on `error` and `disconnect`. A hub that does not select it speaks v1.
 */
export const SUBPROTOCOL = 'chorus.v1.1';

/** Close codes after which the hub does not want the client back (docs/protocol.md, "Close codes"). */
const FINAL_CLOSE_CODES = new Set([1000, 1002, 1007, 1009]);
const TOKEN_CLOSE_CODE = 4001;

/**
 * How long a connection must have lived for its end to count as a fresh start of the backoff
 * schedule. Resetting on every open would let a hub that accepts and at once drops connections
 * pull clients into a tight reconnect loop.
 */
const STABLE_CONNECTION_MS = 5000;

/** How many ping round trips `stats.latency.average` is taken over. */
const LATENCY_WINDOW = 10;

/** Channel events that are not message event names; messages so named only reach `message`. */
const CHANNEL_EVENTS = new Set(['message', 'subscribed', 'unsubscribed', 'recovery_failed', 'error']);

const utf8 = new TextEncoder();
const monotonicNow = () => globalThis.performance?.now() ?? Date.now();

/** An error with a machine-readable `code`: the hub's error code, or one of the client's own. */
export class ChorusError extends Error {
  constructor(code, message, frame) {
    super(message);
    this.name = 'ChorusError';
    this.code = code;
    if (frame !== undefined) this.frame = frame;
  }
}

// ---------------------------------------------------------------------------------------------
// Events

/** A small event emitter. A listener that throws is reported, and the others still run. */
export class EventEmitter {
  #listeners = new Map();

  on(event, listener) {
    const list = this.#listeners.get(event);
    if (list) list.push(listener);
    else this.#listeners.set(event, [listener]);
    return this;
  }

  once(event, listener) {
    const wrapper = (...args) => {
      this.off(event, wrapper);
      return listener.apply(this, args);
    };
    wrapper.listener = listener; // so that off(event, listener) finds it
    return this.on(event, wrapper);
  }

  off(event, listener) {
    const list = this.#listeners.get(event);
    if (!list) return this;
    const index = list.findIndex((entry) => entry === listener || entry.listener === listener);
    if (index !== -1) list.splice(index, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  /** Calls every listener of `event`; returns whether there was one. */
  emit(event, ...args) {
    const list = this.#listeners.get(event);
    if (!list) return false;
    // A copy: listeners may add or remove listeners while we iterate.
    for (const listener of [...list]) {
      try {
        listener.apply(this, args);
      } catch (error) {
        this.#listenerFailed(event, error);
      }
    }
    return true;
  }

  listenerCount(event) {
    return this.#listeners.get(event)?.length ?? 0;
  }

  #listenerFailed(event, error) {
    // An `error` listener that throws goes to the console, not back to `error` (no loop).
    if (event !== 'error' && this.listenerCount('error') > 0) this.emit('error', error);
    else console.error(`chorus: a '${String(event)}' listener threw`, error);
  }
}

// ---------------------------------------------------------------------------------------------
// Pure helpers

/**
 * Delay before reconnection attempt `attempt` (0-based): exponential backoff with full jitter,
 * a uniformly random time between 0 and min(cap, base * 2^attempt). Full jitter spreads the
 * clients of a restarted hub evenly instead of sending them back in waves.
 */
export function backoffDelay(attempt, { base = 1000, cap = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** Whether `topic` matches `pattern` (`*` is one segment, a final `**` one or more). */
export function topicMatches(pattern, topic) {
  if (pattern === topic) return true;
  const wanted = pattern.split('.');
  const segments = topic.split('.');
  for (let i = 0; i < wanted.length; i++) {
    if (wanted[i] === '**') return i === wanted.length - 1 && segments.length > i;
    if (i >= segments.length || (wanted[i] !== '*' && wanted[i] !== segments[i])) return false;
  }
  return wanted.length === segments.length;
}

/** Whether a subscription name is a pattern (has a `*` or `**` segment). */
export function isPattern(name) {
  return name.split('.').some((segment) => segment === '*' || segment === '**');
}

// ---------------------------------------------------------------------------------------------
// Binary frames (docs/protocol.md, "Binary frames"): version 1, header length (big-endian 16
// bits), a JSON header with the frame's fields except `data`, then the data's raw bytes.

const BINARY_VERSION = 1;
const MAX_BINARY_HEADER = 4096;

/** Whether `data` is published as a binary message (raw bytes rather than JSON). */
export function isBinaryData(data) {
  return data instanceof ArrayBuffer || ArrayBuffer.isView(data) || (typeof Blob === 'function' && data instanceof Blob);
}

/** `data` (an ArrayBuffer or a view) as a Uint8Array over the same bytes. */
function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** The binary frame of `header` (an object without `data`) and `data` (bytes). */
export function encodeBinaryFrame(header, data) {
  const json = utf8.encode(JSON.stringify(header));
  if (json.length > MAX_BINARY_HEADER) throw new ChorusError('header_too_large', `binary frame header of ${json.length} bytes (at most ${MAX_BINARY_HEADER})`);
  const bytes = bytesOf(data);
  const frame = new Uint8Array(3 + json.length + bytes.length);
  frame[0] = BINARY_VERSION;
  frame[1] = json.length >> 8;
  frame[2] = json.length & 0xff;
  frame.set(json, 3);
  frame.set(bytes, 3 + json.length);
  return frame;
}

/** The frame a binary frame holds: its header's fields, `data` the bytes after it. Throws `invalid_frame`. */
export function decodeBinaryFrame(buffer) {
  const bytes = bytesOf(buffer);
  if (bytes.length < 3 || bytes[0] !== BINARY_VERSION) throw new ChorusError('invalid_frame', 'not a version 1 binary frame');
  const length = (bytes[1] << 8) | bytes[2];
  if (length < 2 || length > MAX_BINARY_HEADER || 3 + length > bytes.length) {
    throw new ChorusError('invalid_frame', `binary frame header length ${length} is out of bounds`);
  }
  let frame;
  try {
    frame = JSON.parse(new TextDecoder().decode(bytes.subarray(3, 3 + length)));
  } catch {
    frame = null;
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) throw new ChorusError('invalid_frame', 'binary frame header is not a JSON object');
  frame.data = bytes.slice(3 + length);
  return frame;
}

/**
 * A text frame's JSON; a binary message sent as JSON (`encoding: 'base64'`) gets its data as the
 * Uint8Array a binary frame gives. Throws on text that is not JSON or base64 that does not decode.
 */
function parseFrame(text) {
  const frame = JSON.parse(text);
  if (frame?.encoding === 'base64' && typeof frame.data === 'string') {
    const binary = atob(frame.data);
    frame.data = Uint8Array.from(binary, (character) => character.charCodeAt(0));
  }
  return frame;
}

/** A random key for a queued publish (the hub remembers it for `idempotency_window`). */
function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

/** A bounded FIFO for publishes made while offline. */
export class OfflineQueue {
  #items = [];

  constructor({ limit = 100, policy = 'reject' } = {}) {
    if (policy !== 'reject' && policy !== 'drop-oldest') {
      throw new TypeError(`offline queue policy must be 'reject' or 'drop-oldest', not '${policy}'`);
    }
    this.limit = limit;
    this.policy = policy;
  }

  get size() {
    return this.#items.length;
  }

  /**
   * Queues `item`. When the queue is full, returns the item turned away: the new one under
   * 'reject', the oldest under 'drop-oldest'; otherwise returns undefined.
   */
  push(item) {
    if (this.#items.length < this.limit) {
      this.#items.push(item);
      return undefined;
    }
    if (this.policy === 'reject' || this.limit <= 0) return item;
    this.#items.push(item);
    return this.#items.shift();
  }

  /** Removes and returns every item, oldest first. */
  drain() {
    const items = this.#items;
    this.#items = [];
    return items;
  }
}

/**
 * What to do when a connection ends: 'reconnect', 'refresh' (get a new token, then reconnect)
 * or 'stop'. A `disconnect` frame, when the hub sent one, says more than the close code.
 * Exported for the shared protocol test vectors (Tests/vectors/protocol-v1.1.json).
 */
export function closePolicy(code, disconnect) {
  // An expired token is worth renewing, whether it expired while connected or before.
  if (disconnect?.reason === 'token_expired') return 'refresh';
  if (code === TOKEN_CLOSE_CODE || disconnect?.code === TOKEN_CLOSE_CODE) {
    // Any other 4001 is final (token_invalid), unless a v1 hub asks for a reconnection.
    return disconnect?.reconnect ? 'refresh' : 'stop';
  }
  if (disconnect) return disconnect.reconnect ? 'reconnect' : 'stop';
  return FINAL_CLOSE_CODES.has(code) ? 'stop' : 'reconnect';
}

function errorFromFrame(frame) {
  const error = new ChorusError(frame.code ?? 'internal', frame.message ?? 'error', frame);
  if (frame.reason !== undefined) error.reason = frame.reason;
  return error;
}

// ---------------------------------------------------------------------------------------------
// Channels

// Module-private hooks through which the client drives its channels.
const CONNECTED = Symbol('connected');
const CONNECTION_LOST = Symbol('connection lost');
const STOPPED = Symbol('stopped');
const DELIVER = Symbol('deliver');
const PRESENCE_FRAME = Symbol('presence frame');
const UNSUBSCRIBED = Symbol('unsubscribed');
const SYNC_FRAME = Symbol('sync frame');

/**
 * One topic or pattern on a client's shared connection. Get it with `client.channel(name)`.
 *
 * Events: each message's `event` name (listener gets `data, message`), `message` (every
 * message), `subscribed`, `recovery_failed`, `unsubscribed`, `error`.
 *
 * With a `decode` option, each message's data goes through it before the channel emits the
 * message (its original data kept as `encoded`), in arrival order; a decoding that fails emits
 * `error` (code `decode_failed`) instead of that message.
 */
export class Channel extends EventEmitter {
  #client;
  #link;
  #name;
  #wanted = false; // subscribe() was called and unsubscribe() was not
  #live = false; // confirmed on the current connection
  #gap = false; // was live on a connection that ended; not yet recovered
  #attempt = 0; // numbers subscribe requests, so a stale reply is recognised
  #inFlight = false;
  #waiters = [];
  #confirmation = null;
  #positions = new Map(); // topic → {offset, epoch} of the last message seen
  #lastTs; // newest `ts` seen, to resume a pattern subscription
  #decodeOption;
  #decoder = null; // Promise of the decode function, made on the first message
  #decoded = Promise.resolve(); // the last decoded message's emission: the next waits for it
  #presence = null;

  /** @internal Use client.channel(name, options). */
  constructor(client, name, link, { decode } = {}) {
    super();
    this.#client = client;
    this.#name = name;
    this.#link = link;
    if (decode !== undefined && typeof decode !== 'function' && typeof decode?.export !== 'string') {
      throw new TypeError('chorus: decode must be a function or { module, export }');
    }
    this.#decodeOption = decode;
  }

  get name() {
    return this.#name;
  }

  get client() {
    return this.#client;
  }

  /** Who is in the topic (namespaces with presence): join, update, leave, members, events. */
  get presence() {
    this.#presence ??= new Presence(this, this.#link);
    return this.#presence;
  }

  /** 'unsubscribed', 'subscribing' or 'subscribed'. */
  get state() {
    if (!this.#wanted) return 'unsubscribed';
    return this.#live ? 'subscribed' : 'subscribing';
  }

  /** The last offset and epoch seen for `topic` (default: the channel's own name). */
  position(topic = this.#name) {
    const position = this.#positions.get(topic);
    return position ? { ...position } : undefined;
  }

  /** Subscribes (now, or as soon as the client is connected); resolves with `subscribed`. */
  subscribe() {
    const stopped = this.#link.stopReason();
    if (stopped) return Promise.reject(stopped);
    this.#wanted = true;
    if (this.#live) return Promise.resolve(this.#confirmation);
    const confirmed = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#link.connected() && !this.#inFlight) this.#sendSubscribe();
    return confirmed;
  }

  async unsubscribe() {
    const wasLive = this.#live || this.#inFlight;
    this.#wanted = false;
    this.#live = false;
    this.#gap = false;
    this.#inFlight = false;
    this.#attempt++; // a subscribe reply still on its way is now stale
    this.#positions.clear();
    this.#lastTs = undefined;
    this.#settleWaiters(new ChorusError('unsubscribed', `unsubscribed from '${this.#name}'`));
    if (wasLive && this.#link.connected()) {
      try {
        await this.#link.send({ type: 'unsubscribe', topic: this.#name });
      } catch (error) {
        // A connection that ended took the subscription with it; anything else is news.
        if (error.code !== 'disconnected' && error.code !== 'not_connected') throw error;
      }
    }
    this.#presence?.[UNSUBSCRIBED]();
    this.emit('unsubscribed', { topic: this.#name });
  }

  /** Publishes to this channel's topic; resolves with the hub's `ack`. */
  publish(event, data, options) {
    return this.#client.publish(this.#name, event, data, options);
  }

  #sendSubscribe() {
    const resuming = this.#gap;
    const frame = { type: 'subscribe', topic: this.#name };
    const since = resuming ? this.#since() : undefined;
    if (since) frame.since = since;
    const attempt = ++this.#attempt;
    this.#inFlight = true;
    this.#link.send(frame).then(
      (reply) => attempt === this.#attempt && this.#confirmed(reply, resuming),
      (error) => attempt === this.#attempt && this.#refused(error),
    );
  }

  /** Where to resume from: the topic's offset, or for a pattern the newest message time. */
  #since() {
    const position = this.#positions.get(this.#name);
    if (position) return { offset: position.offset, epoch: position.epoch };
    // Resuming by time is what the protocol offers patterns, whose topics have no one offset.
    if (isPattern(this.#name) && this.#lastTs !== undefined) return { ts: this.#lastTs };
    return undefined;
  }

  #confirmed(reply, resuming) {
    this.#inFlight = false;
    this.#live = true;
    this.#confirmation = reply;
    const recovered = resuming && reply.recovered === true;
    if (!recovered) {
      // A fresh start: what we knew is stale; the hub's current position (if any) is the base.
      this.#positions.clear();
      if (typeof reply.offset === 'number' && reply.epoch !== undefined) {
        this.#positions.set(this.#name, { offset: reply.offset, epoch: reply.epoch });
      }
    }
    this.#gap = false;
    this.#settleWaiters(null, reply);
    this.emit('subscribed', reply);
    // Anything short of `recovered: true` after a gap means messages may be missing.
    if (resuming && !recovered) this.emit('recovery_failed', { topic: this.#name, reply });
  }

  #refused(error) {
    this.#inFlight = false;
    // A lost connection is not a refusal: the subscription is sent again on reconnect.
    if (error.code === 'disconnected') return;
    // Nor is silence, which means a dying connection: report it, and keep the subscription
    // for the next one.
    if (error.code !== 'timeout') this.#wanted = false;
    this.#gap = false;
    this.#settleWaiters(error);
    this.emit('error', error);
  }

  #settleWaiters(error, reply) {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve(reply);
    }
  }

  [CONNECTED]() {
    if (this.#wanted) this.#sendSubscribe();
    this.#presence?.[CONNECTED]();
  }

  [CONNECTION_LOST]() {
    if (this.#live) this.#gap = true;
    this.#live = false;
    this.#inFlight = false;
    this.#attempt++;
    this.#presence?.[CONNECTION_LOST]();
  }

  [STOPPED](error) {
    this.#settleWaiters(error);
    this.#presence?.[STOPPED](error);
  }

  [PRESENCE_FRAME](frame) {
    this.presence[DELIVER](frame);
  }

  [DELIVER](message) {
    if (!this.#wanted) return;
    if (typeof message.offset === 'number' && message.epoch !== undefined) {
      const last = this.#positions.get(message.topic);
      // Replays may overlap what already arrived (e.g. a pattern resumed by time).
      if (last && last.epoch === message.epoch && message.offset <= last.offset) return;
      this.#positions.set(message.topic, { offset: message.offset, epoch: message.epoch });
    }
    if (typeof message.ts === 'number' && !(message.ts <= this.#lastTs)) this.#lastTs = message.ts;
    if (this.#decodeOption === undefined) this.#emitMessage(message);
    else this.#decodeThenEmit(message);
  }

  #emitMessage(message) {
    this.emit('message', message);
    if (typeof message.event === 'string' && !CHANNEL_EVENTS.has(message.event)) {
      this.emit(message.event, message.data, message);
    }
  }

  /** Decodings run side by side (in a worker pool for wasm); emissions keep arrival order. */
  #decodeThenEmit(message) {
    const decoding = this.#decodeFunction().then((decode) => decode(message.data, message));
    decoding.catch(() => {}); // reported in turn below, not as an unhandled rejection meanwhile
    this.#decoded = this.#decoded.then(() => decoding).then(
      (data) => this.#wanted && this.#emitMessage({ ...message, data, encoded: message.data }),
      (error) => this.#wanted && this.emit('error', new ChorusError('decode_failed',
        `could not decode a message on '${message.topic}': ${error?.message ?? error}`, message)),
    );
  }

  /** A wasm decoder comes from chorus-wasm.js, imported only by a channel that asks for one. */
  #decodeFunction() {
    const option = this.#decodeOption;
    this.#decoder ??= typeof option === 'function'
      ? Promise.resolve(option)
      : import('./chorus-wasm.js').then((wasm) => wasm.wasmDecoder(option));
    return this.#decoder;
  }
}

// ---------------------------------------------------------------------------------------------
// Presence

/** The statuses the demo and the React bindings offer; `meta.status` may be any string. */
export const PRESENCE_STATUSES = Object.freeze(['online', 'away', 'busy']);

/**
 * Who is in a channel's topic (namespaces with `presence: true`): `channel.presence`.
 *
 * The member list is the hub's `presence_state` with every later `presence_diff` applied (a
 * diff's leaves first, then its joins, keyed by client id: the hub's contract). Events:
 * `join` (member), `leave` (member), `update` (member, previous), each for one connection, then
 * `sync` (users) once per state or diff; `error`. After a reconnection the client joins again
 * with the last meta, and the new `presence_state` replaces the list. Diffs that arrive while a
 * state is awaited (a join or sync in flight) are applied again after the state.
 *
 * Large rooms: `join(meta, {limit})` asks the hub for the `limit` oldest members only (and the
 * counts), so the join is answered at once whatever the room's size; the rest of the list comes
 * in pages of `pageSize` in the background (`walk: false`: not at all), each applied as it
 * arrives (event `sync`), with the diffs that come meanwhile. Until the last page, `complete` is
 * false and `count`/`userCount` are the hub's figures as of the latest page; then the list is the
 * whole room, oldest first. `page()` reads one page without touching the list.
 */
export class Presence extends EventEmitter {
  #channel;
  #link;
  #members = new Map(); // client id → member, in the hub's order (oldest first)
  #meta = null; // what join() or update() last asked for; null while not joined
  #joined = false; // the hub has confirmed the join on the current connection
  #joining = 0; // presence_join frames on their way
  #watching = false; // a presence_state was asked for: resync it after a reconnection
  #syncing = 0; // presence requests on their way
  // Diffs that came while a presence_state was awaited: in a cluster a diff can overtake the
  // state that answers a join (docs/protocol.md), so they are applied again after it.
  #early = [];
  #waiters = [];
  #listOptions = {}; // {limit, pageSize, walk} of the last join() or sync(): used again after a reconnection
  // A list arriving in pages: {seen: clients listed or joined since its first page, total:
  // {count, users} of the latest page, next: cursor of the page to ask for (null: none asked)}.
  #load = null;
  #continuations = new Map(); // request id → the load its page continues
  #queries = new Set(); // request ids of page(): answered, not applied

  /** @internal Use channel.presence. */
  constructor(channel, link) {
    super();
    this.#channel = channel;
    this.#link = link;
  }

  get topic() {
    return this.#channel.name;
  }

  /** Whether this connection is a member (join() called and leave() not since). */
  get joined() {
    return this.#meta !== null;
  }

  /** The meta this client joined with, merged with its updates (null when not joined). */
  get meta() {
    return this.#meta === null ? null : { ...this.#meta };
  }

  /** Connections in the topic (while pages load: the hub's count as of the latest page). */
  get count() {
    return this.#load ? this.#load.total.count : this.#members.size;
  }

  /** Distinct users in the topic (an anonymous connection counts as its own user; while pages load, the hub's figure). */
  get userCount() {
    return this.#load ? this.#load.total.users : this.members().length;
  }

  /** Whether the list holds every member (false while pages of it are still to come). */
  get complete() {
    return this.#load === null;
  }

  /** This connection's own member entry, once the hub listed it. */
  get me() {
    const self = this.#link.session()?.client;
    return (self && this.#members.get(self)) ?? null;
  }

  /** Every connection in the topic, oldest first: {user, client, meta, joined_at}. */
  list() {
    return [...this.#members.values()];
  }

  /**
   * The members grouped by user, in order of each user's first connection: {user, key, meta,
   * joined_at, connections}. `meta` is the user's newest connection's; `key` is the user id, or
   * the client id of an anonymous connection (its own user).
   */
  members() {
    return groupByUser(this.#members.values());
  }

  /**
   * Joins with `meta` (an object: status, name, colour, cursor…); resolves with the hub's
   * `presence_state` (subscribing the connection to the topic, as the hub does). While not
   * connected it resolves once the client connects and the join is confirmed.
   *
   * Options: `limit` (0…1000): the state lists that many members (the oldest) and the counts;
   * the rest then comes in pages of `pageSize` (default 1000) in the background, unless `walk`
   * is false. Without `limit`, the state is the whole list.
   */
  join(meta = {}, options = {}) {
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
      return Promise.reject(new TypeError('chorus: presence meta must be an object'));
    }
    const stopped = this.#link.stopReason();
    if (stopped) return Promise.reject(stopped);
    try {
      this.#listOptions = listOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#meta = { ...meta };
    const joined = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#link.connected()) this.#sendJoin();
    return joined;
  }

  /**
   * Changes this member's meta: `patch` is merged into the last meta (so `update({status:
   * 'away'})` keeps the name). Resolves with the hub's `ack`; while disconnected the new meta is
   * kept for the rejoin and the promise resolves at once with null.
   */
  async update(patch) {
    if (this.#meta === null) throw new ChorusError('not_joined', `not a member of '${this.topic}': join() first`);
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      throw new TypeError('chorus: presence meta must be an object');
    }
    this.#meta = { ...this.#meta, ...patch };
    if (!this.#joined || !this.#link.connected()) return null;
    return this.#link.send({ type: 'presence_update', topic: this.topic, meta: this.#meta });
  }

  /** Sets `meta.status` (online, away, busy, or any string the application uses). */
  setStatus(status) {
    return this.update({ status });
  }

  /** Leaves (the connection stays subscribed, so the list stays current); resolves with `ack`. */
  async leave() {
    // A join still on its way is answered first (frames are served in order): leave after it.
    const member = this.#joined || this.#joining > 0;
    this.#meta = null;
    this.#joined = false;
    this.#settleWaiters(new ChorusError('left', `left the presence of '${this.topic}'`));
    if (!member || !this.#link.connected()) return null;
    return this.#link.send({ type: 'presence_leave', topic: this.topic });
  }

  /**
   * Asks the hub for the whole list again (members and readers of the topic may). With `limit`
   * (options as join()'s), it comes in pages: resolves with the first.
   */
  async sync(options = this.#listOptions) {
    this.#listOptions = listOptions(options);
    this.#watching = true;
    this.#syncing++;
    try {
      return await this.#link.send({ type: 'presence', topic: this.topic, ...pageFields(this.#listOptions.limit) });
    } finally {
      this.#syncing--;
      this.#forgetEarlyDiffs();
    }
  }

  /**
   * One page of the hub's list, without changing this one: at most `limit` members (0…1000;
   * none: all) after `after` (the `next` of the page before; none: from the oldest). Resolves
   * with the `presence_state`: {members, count, users, next?}.
   */
  page({ limit, after } = {}) {
    let sent;
    const remember = (id) => {
      sent = id;
      this.#queries.add(id);
    };
    return this.#link.send({ type: 'presence', topic: this.topic, ...pageFields(limit, after) }, remember).finally(() => this.#queries.delete(sent));
  }

  /** The hub's cheap counts, without the list: {topic, clients, users}. */
  stats() {
    return this.#link.send({ type: 'presence_stats', topic: this.topic });
  }

  #sendJoin() {
    const meta = this.#meta;
    this.#joining++;
    this.#link.send({ type: 'presence_join', topic: this.topic, meta, ...pageFields(this.#listOptions.limit) }).then(
      (state) => {
        this.#joining--;
        if (this.#meta === null) return; // left meanwhile
        this.#joined = true;
        // An update made while the join was on its way: send it now.
        if (this.#meta !== meta) this.update({}).catch((error) => this.emit('error', error));
        this.#settleWaiters(null, state);
      },
      (error) => {
        this.#joining--;
        this.#forgetEarlyDiffs();
        if (error.code === 'disconnected') return; // joined again on the next connection
        // Silence means a dying connection: report it, and join again on the next one.
        if (error.code !== 'timeout') this.#meta = null;
        this.#joined = false;
        this.#settleWaiters(error);
        this.emit('error', error);
      },
    );
  }

  /** No state is awaited any more: the diffs kept for one are not needed. */
  #forgetEarlyDiffs() {
    if (this.#joining === 0 && this.#syncing === 0) this.#early = [];
  }

  #settleWaiters(error, reply) {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve(reply);
    }
  }

  [CONNECTED]() {
    if (this.#meta !== null) this.#sendJoin();
    else if (this.#watching) this.sync().catch(() => {}); // refused or lost: the list stays as it was
  }

  [CONNECTION_LOST]() {
    this.#joined = false;
  }

  [STOPPED](error) {
    this.#settleWaiters(error);
  }

  /** The channel unsubscribed: for the hub that is a leave, and no diff comes any more. */
  [UNSUBSCRIBED]() {
    this.#meta = null;
    this.#joined = false;
    this.#watching = false;
    this.#settleWaiters(new ChorusError('unsubscribed', `unsubscribed from '${this.topic}'`));
    this.#load = null;
    if (this.#members.size === 0) return;
    this.#replace([]);
    this.emit('sync', []);
  }

  /**
   * Applies a `presence_state` (the whole list replaces this one; a first page starts a list
   * that comes in pages; a later page adds to it) or a `presence_diff`.
   */
  [DELIVER](frame) {
    if (frame.type === 'presence_state') {
      if (this.#queries.delete(frame.id)) return; // page(): the caller's
      const members = Array.isArray(frame.members) ? frame.members : [];
      const load = this.#continuations.get(frame.id);
      if (load !== undefined) {
        this.#continuations.delete(frame.id);
        if (load !== this.#load) return; // a page of a list since replaced
        this.#addPage(members, frame);
      } else if (typeof frame.next === 'string') {
        this.#watching = true;
        this.#load = { seen: new Set(), total: null, next: null };
        this.#addPage(members, frame);
      } else {
        this.#watching = true;
        this.#load = null;
        this.#replace(members);
      }
      // Changes that overtook the state (joins and leaves by client id: applying one the state
      // already has changes nothing).
      for (const diff of this.#early) this.#applyDiff(diff);
      this.#early = [];
    } else {
      if (this.#joining > 0 || this.#syncing > 0) this.#early.push(frame);
      this.#applyDiff(frame);
    }
    this.emit('sync', this.members());
  }

  /** A page of the list coming in pages: its members are upserted; the last one completes it. */
  #addPage(members, frame) {
    const load = this.#load;
    load.total = { count: frame.count ?? 0, users: frame.users ?? 0 };
    for (const member of members) {
      load.seen.add(member.client);
      const known = this.#members.get(member.client);
      this.#members.set(member.client, member);
      this.#announce(member, known);
    }
    if (typeof frame.next === 'string') {
      load.next = frame.next;
      if (this.#listOptions.walk !== false) this.#askPage(load);
      return;
    }
    // The last page: who was listed before and neither came in a page nor joined since has left.
    this.#load = null;
    const previous = this.#members;
    for (const [client, member] of previous) if (!load.seen.has(client)) this.emit('leave', member);
    const kept = [...previous.values()].filter((member) => load.seen.has(member.client));
    kept.sort((a, b) => (a.joined_at ?? 0) - (b.joined_at ?? 0) || (a.client < b.client ? -1 : a.client > b.client ? 1 : 0));
    this.#members = new Map(kept.map((member) => [member.client, member]));
  }

  /** Asks for the page after `load.next`, in the background. */
  #askPage(load) {
    const frame = { type: 'presence', topic: this.topic, ...pageFields(this.#listOptions.pageSize ?? PAGE_MAX, load.next) };
    this.#syncing++;
    let sent;
    const remember = (id) => {
      sent = id;
      this.#continuations.set(id, load);
    };
    this.#link.send(frame, remember).then(
      () => {},
      (error) => {
        // Lost with the connection: the list is asked again on the next one.
        if (load === this.#load && error.code !== 'disconnected' && error.code !== 'not_connected') this.emit('error', error);
      },
    ).finally(() => {
      this.#continuations.delete(sent);
      this.#syncing--;
      this.#forgetEarlyDiffs();
    });
  }

  #replace(members) {
    const previous = this.#members;
    this.#members = new Map();
    for (const member of members) this.#members.set(member.client, member);
    for (const [client, member] of previous) if (!this.#members.has(client)) this.emit('leave', member);
    for (const [client, member] of this.#members) this.#announce(member, previous.get(client));
  }

  #applyDiff(frame) {
    const leaves = Array.isArray(frame.leaves) ? frame.leaves : [];
    const joins = Array.isArray(frame.joins) ? frame.joins : [];
    // A list coming in pages: who joins meanwhile is listed (even where no later page has it:
    // another node's clock can put it before the pages already read).
    for (const member of joins) this.#load?.seen.add(member.client);
    // An update is the same client in both lists: it keeps its place and is reported once.
    const rejoining = new Set(joins.map((member) => member.client));
    for (const member of leaves) {
      const known = this.#members.get(member.client);
      if (!known || rejoining.has(member.client)) continue;
      this.#members.delete(member.client);
      this.emit('leave', known);
    }
    for (const member of joins) {
      const known = this.#members.get(member.client);
      this.#members.set(member.client, member); // a newcomer goes last: the hub's order
      this.#announce(member, known);
    }
  }

  #announce(member, previous) {
    if (!previous) this.emit('join', member);
    else if (JSON.stringify(previous.meta) !== JSON.stringify(member.meta)) this.emit('update', member, previous);
  }
}

/** The most members a page of the presence list holds (the hub's bound on `limit`). */
const PAGE_MAX = 1000;

/** The paging options of Presence#join and #sync, checked. */
function listOptions({ limit, pageSize, walk } = {}) {
  for (const [name, value] of [['limit', limit], ['pageSize', pageSize]]) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= PAGE_MAX)) {
      throw new TypeError(`chorus: presence ${name} must be a whole number from 0 to ${PAGE_MAX}`);
    }
  }
  if (pageSize === 0) throw new TypeError('chorus: presence pageSize must be at least 1');
  return { limit, pageSize, walk };
}

/** The `limit` and `after` fields of a presence request, where given. */
function pageFields(limit, after) {
  const fields = {};
  if (limit !== undefined && limit !== null) fields.limit = limit;
  if (after !== undefined && after !== null) fields.after = after;
  return fields;
}

/** Up to two initials of a name ("Ada Lovelace" → "AL"). */
export function initialsOf(name) {
  const words = String(name ?? '').trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  const letters = words.length === 1 ? [...words[0]].slice(0, 2) : [[...words[0]][0], [...words[words.length - 1]][0]];
  return letters.join('').toUpperCase();
}

/** A stable colour for a key: the same user has the same colour on every page. */
export function colourOf(key) {
  let hash = 0;
  for (const char of String(key)) hash = (Math.imul(hash, 31) + char.codePointAt(0)) | 0;
  return `hsl(${Math.abs(hash) % 360} 62% 45%)`;
}

/** Members grouped by user (see Presence#members). */
export function groupByUser(members) {
  const users = new Map();
  for (const member of members) {
    const key = member.user ?? member.client;
    const entry = users.get(key);
    if (entry) {
      entry.connections.push(member);
      if ((member.joined_at ?? 0) >= (entry.joined_at ?? 0)) entry.meta = member.meta;
    } else {
      users.set(key, { user: member.user ?? null, key, meta: member.meta, joined_at: member.joined_at, connections: [member] });
    }
  }
  return [...users.values()];
}

// ---------------------------------------------------------------------------------------------
// Sync collections

/** Failures after which a mutation may or may not have reached the hub: it is sent again. */
const RESEND_ERRORS = new Set(['disconnected', 'not_connected', 'timeout']);

/**
 * A sync collection (namespaces with `sync: true`, docs/sync.md): `client.collection(name)`.
 *
 * `records` are the hub's records (its snapshot with every later change applied, in version
 * order) with this client's pending mutations applied on top, in the order they were made: an
 * insert or update shows at once (`pending: true`), a removal hides the record. Mutations go to
 * the hub one at a time, in order, each with its own `mutation_id`; an update or removal names
 * the version it was made against (`base_version`), so a record someone else changed meanwhile
 * is a `conflict`: the mutation is rolled back to the hub's record. While offline mutations
 * wait, and are sent once connected, with the same ids (a mutation whose ack was lost with the
 * connection is answered by the hub without being applied twice). After a reconnection the
 * collection resumes from its version (`since`): the hub sends the changes it missed, or a
 * snapshot when it no longer has them.
 *
 * With `options.outbox` (a function taking the mutation as `sync_mutate` has it and resolving
 * to whether it was stored: chorus-pwa.js's `queueMutation`), a mutation made while offline is
 * handed to that outbox, which outlives the page and replays it once the hub answers; it shows
 * here as pending until its change arrives or `outboxReport()` settles it. A mutation made on
 * top of a stored one of the same record waits here for that one's version.
 *
 * Events: `insert` (record, change), `update` (record, previous, change), `delete` (previous,
 * change), one per change from the hub (`change.local`: this client's own mutation); `snapshot`
 * (records, version); `rollback` ({op, id, data, mutationId, error, current}); `sync` (records)
 * after anything changed what `list()` returns; `status` (status, previous); `error`.
 */
export class Collection extends EventEmitter {
  #link;
  #name;
  #maxPending;
  #wanted = false; // subscribe() was called and unsubscribe() was not
  #status = 'idle';
  #attempt = 0; // numbers subscribe requests, so a stale reply is recognised
  #waiters = [];
  #version = null; // the hub's version the confirmed records are at; null before a snapshot
  #confirmed = new Map(); // record id → the hub's record
  #records = this.#confirmed; // what the application sees: the confirmed records, pending mutations applied
  #pending = []; // mutations not yet acknowledged or refused, oldest first
  #sending = null; // {mutation} for the one on its way: an answer to an earlier send is ignored
  #outbox; // (mutation) => Promise<boolean>: where offline mutations go, when given

  /** @internal Use client.collection(name, options). */
  constructor(link, name, { maxPending = 1000, outbox = null } = {}) {
    super();
    if (isPattern(name)) throw new TypeError(`chorus: a collection is a topic, not a pattern ('${name}')`);
    if (outbox !== null && typeof outbox !== 'function') throw new TypeError('chorus: a collection\'s outbox is a function');
    this.#link = link;
    this.#name = name;
    this.#maxPending = maxPending;
    this.#outbox = outbox;
  }

  get name() {
    return this.#name;
  }

  /** 'idle' (not subscribed), 'loading' (before the first snapshot), 'live', 'offline' or 'error'. */
  get status() {
    return this.#status;
  }

  /** The hub's version of the collection this client has applied (null before a snapshot). */
  get version() {
    return this.#version;
  }

  /** Mutations not yet acknowledged or refused (queued while offline, or on their way). */
  get pending() {
    return this.#pending.length;
  }

  get size() {
    return this.#records.size;
  }

  /** The record with `id` as this client sees it (pending mutations applied), or undefined. */
  get(id) {
    return this.#records.get(id);
  }

  /** Every record as this client sees it: the hub's order (by id), then records inserted here. */
  list() {
    return [...this.#records.values()];
  }

  /**
   * Follows the collection: resolves with the records once the hub's snapshot (or, resuming,
   * its changes) arrived. While offline it waits for the connection.
   */
  subscribe() {
    const stopped = this.#link.stopReason();
    if (stopped) return Promise.reject(stopped);
    if (this.#wanted && this.#status === 'live') return Promise.resolve(this.list());
    const ready = new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#wanted) {
      this.#wanted = true;
      this.#setStatus('loading');
      if (this.#link.connected()) this.#sendSubscribe();
    }
    return ready;
  }

  /** Stops following (pending mutations are still sent); the records are forgotten. */
  async unsubscribe() {
    const was = this.#wanted;
    this.#wanted = false;
    this.#attempt++;
    this.#version = null;
    this.#settleWaiters(new ChorusError('unsubscribed', `unsubscribed from '${this.#name}'`));
    this.#confirmed = new Map();
    this.#rebuild();
    this.#setStatus('idle');
    this.emit('sync', this.list());
    if (!was || !this.#link.connected()) return null;
    try {
      return await this.#link.send({ type: 'sync_unsubscribe', collection: this.#name });
    } catch (error) {
      if (error.code !== 'disconnected' && error.code !== 'not_connected') throw error;
      return null;
    }
  }

  /**
   * Inserts a record with `data` (id: `options.id`, or a random one made here, so the record
   * shows before the hub answers). Resolves with the hub's `ack` {record_id, version, mutation_id}.
   */
  insert(data, { id } = {}) {
    return this.#mutate({ op: 'insert', id: id ?? newIdempotencyKey(), data, base: null });
  }

  /**
   * Replaces the data of record `id`. `options.baseVersion`: the version it must be at (default:
   * the version this client sees, so a record changed by someone else meanwhile is a conflict
   * and the update is rolled back); `null` for last write wins.
   */
  update(id, data, { baseVersion } = {}) {
    return this.#mutate({ op: 'update', id, data, base: this.#baseFor(id, baseVersion) });
  }

  /** Deletes record `id` (`options.baseVersion` as for update). */
  remove(id, { baseVersion } = {}) {
    return this.#mutate({ op: 'delete', id, base: this.#baseFor(id, baseVersion) });
  }

  /**
   * The version a mutation of `id` is made against: the caller's, or the one this client sees,
   * which is the result of its own mutation of the record still on its way, when there is one.
   */
  #baseFor(id, option) {
    if (option !== undefined) return option;
    const previous = this.#pending.findLast((mutation) => mutation.id === id);
    if (previous) return { after: previous };
    return this.#confirmed.get(id)?.version ?? null;
  }

  #mutate(fields) {
    const stopped = this.#link.stopReason();
    if (stopped) return Promise.reject(stopped);
    if (typeof fields.id !== 'string' || fields.id === '') return Promise.reject(new TypeError('chorus: a record id is a non-empty string'));
    if (this.#pending.length >= this.#maxPending) {
      return Promise.reject(new ChorusError('queue_full', `${this.#maxPending} mutations of '${this.#name}' are already pending`));
    }
    return new Promise((resolve, reject) => {
      const mutation = { ...fields, mutationId: newIdempotencyKey(), resolve, reject, applied: false, version: null, stored: false };
      this.#pending.push(mutation);
      this.#changed();
      if (this.#outbox && !this.#link.connected() && !fields.base?.after) this.#store(mutation);
      else this.#pump();
    });
  }

  /** The mutation's `sync_mutate` fields: what the hub is sent, or the outbox stores. */
  #wire(mutation) {
    const wire = { collection: this.#name, op: mutation.op, record_id: mutation.id, mutation_id: mutation.mutationId };
    if (mutation.op !== 'delete') wire.data = mutation.data === undefined ? null : mutation.data;
    // Sent one at a time, so a mutation made on top of an earlier one knows its version.
    const base = typeof mutation.base === 'object' && mutation.base !== null ? mutation.base.after.version : mutation.base;
    if (typeof base === 'number') wire.base_version = base;
    return wire;
  }

  /** Offline: the mutation goes to the outbox; when it is not taken, it waits here as usual. */
  #store(mutation) {
    mutation.stored = true; // at once, so a reconnection meanwhile does not send it too
    Promise.resolve().then(() => this.#outbox(this.#wire(mutation))).then((stored) => stored, () => false).then((stored) => {
      if (stored) return;
      mutation.stored = false;
      this.#pump();
    });
  }

  /**
   * Settles a mutation this collection stored in the outbox, from the outbox's report
   * (chorus-pwa.js `mutated` {mutation, ack} or `mutationRejected` {mutation, error, current}):
   * acknowledged, or rolled back like a refusal over the connection. False when it is not one
   * of this page's pending mutations (its change came first, or another page stored it).
   */
  outboxReport({ mutation, ack, error, current } = {}) {
    const own = this.#pending.find((each) => each.stored && each.mutationId === mutation?.mutation_id && mutation?.collection === this.#name);
    if (!own) return false;
    if (ack) this.#acknowledged(own, ack);
    else {
      this.#refuse(own, new ChorusError(error?.code ?? 'internal', error?.message ?? 'the hub refused the stored mutation', { current: current ?? null }));
      this.#pump();
    }
    return true;
  }

  /**
   * Sends the oldest pending mutation, when none is on its way and the client is connected
   * (`connected`: true while the client opens, before its state says so).
   */
  #pump(connected = this.#link.connected()) {
    if (this.#sending || !connected) return;
    // Stored ones are the outbox's to send; one made on top of a stored one waits for its version.
    const mutation = this.#pending.find((each) => !each.stored);
    if (!mutation || (mutation.base?.after?.stored && mutation.base.after.version === null)) return;
    const frame = { type: 'sync_mutate', ...this.#wire(mutation) };
    const sending = { mutation };
    this.#sending = sending;
    this.#link.send(frame).then(
      (ack) => this.#sending === sending && this.#acknowledged(mutation, ack),
      (error) => this.#sending === sending && this.#failed(mutation, error),
    );
  }

  #acknowledged(mutation, ack) {
    if (this.#sending?.mutation === mutation) this.#sending = null; // a stored one was never sent here
    this.#pending.splice(this.#pending.indexOf(mutation), 1);
    mutation.version = ack.version;
    // Without a subscription (or with a snapshot older than the ack) its change did not come:
    // the ack tells what the hub now holds.
    if (!mutation.applied && !(ack.version <= this.#version)) {
      this.#learn(mutation.id, mutation.op === 'delete' ? null : { id: mutation.id, version: ack.version, data: mutation.data ?? null, updated_at: Date.now(), updated_by: this.#link.session()?.user ?? null });
    }
    mutation.resolve(ack);
    this.#changed();
    this.#pump();
  }

  #failed(mutation, error) {
    this.#sending = null;
    if (RESEND_ERRORS.has(error.code)) {
      // It may have been applied: sent again with the same id, on the next connection (or now,
      // after a timeout on a connection that is still up).
      if (error.code === 'timeout') this.#pump();
      return;
    }
    this.#refuse(mutation, error);
    this.#pump();
  }

  /**
   * Rolls back a refused mutation, and every pending one made on top of it (their base never
   * came to be), to the hub's record (a conflict's `current`).
   */
  #refuse(mutation, error) {
    if (error.code === 'conflict' && error.frame && 'current' in error.frame) this.#learn(mutation.id, error.frame.current);
    const refused = new Set([mutation]);
    const kept = [];
    for (const each of this.#pending) {
      if (each !== mutation && !(each.base?.after && refused.has(each.base.after))) kept.push(each);
      else refused.add(each);
    }
    this.#pending = kept;
    this.#rollBack([...refused], error);
  }

  /** Mutations taken out of the pending list: the records shown without them, then reported. */
  #rollBack(mutations, error) {
    this.#changed(); // first, so `rollback` listeners see the records as they now are
    for (const mutation of mutations) {
      const current = this.#confirmed.get(mutation.id) ?? null;
      this.emit('rollback', { op: mutation.op, id: mutation.id, data: mutation.data, mutationId: mutation.mutationId, error, current });
      mutation.reject(error);
    }
  }

  /** A record as the hub has it (null: gone), unless a newer version of it is known already. */
  #learn(id, record) {
    const known = this.#confirmed.get(id);
    if (record === null || record === undefined) this.#confirmed.delete(id);
    else if (!(known?.version >= record.version)) this.#confirmed.set(id, record);
  }

  #sendSubscribe() {
    const frame = { type: 'sync_subscribe', collection: this.#name };
    if (this.#version !== null) frame.since = this.#version;
    const attempt = ++this.#attempt;
    this.#link.send(frame).then(
      () => attempt === this.#attempt && this.#subscribed(),
      (error) => attempt === this.#attempt && this.#subscribeFailed(error),
    );
  }

  #subscribed() {
    this.#setStatus('live');
    this.#settleWaiters(null, this.list());
  }

  #subscribeFailed(error) {
    // A lost connection is not a refusal: the subscription is sent again on reconnect.
    if (RESEND_ERRORS.has(error.code)) return;
    this.#wanted = false;
    this.#setStatus('error');
    this.#settleWaiters(error);
    this.emit('error', error);
  }

  #settleWaiters(error, value) {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve(value);
    }
  }

  #setStatus(next) {
    const previous = this.#status;
    if (previous === next) return;
    this.#status = next;
    this.emit('status', next, previous);
  }

  /** What the application sees is made again from the hub's records and the pending mutations. */
  #rebuild() {
    const overlay = this.#pending.filter((mutation) => !mutation.applied);
    if (overlay.length === 0) {
      this.#records = this.#confirmed;
      return;
    }
    const records = new Map(this.#confirmed);
    for (const mutation of overlay) {
      if (mutation.op === 'delete') {
        records.delete(mutation.id);
        continue;
      }
      const base = records.get(mutation.id);
      records.set(mutation.id, {
        id: mutation.id, version: base?.version ?? null, data: mutation.data ?? null,
        updated_at: base?.updated_at ?? null, updated_by: base?.updated_by ?? null, pending: true,
      });
    }
    this.#records = records;
  }

  #changed() {
    this.#rebuild();
    this.emit('sync', this.list());
  }

  /** Applies one change from the hub, once (by version); false if it was applied already. */
  #apply(change) {
    if (typeof change.version !== 'number' || typeof change.record_id !== 'string') return false;
    if (this.#version !== null && change.version <= this.#version) return false;
    this.#version = change.version;
    const id = change.record_id;
    const previous = this.#confirmed.get(id);
    const own = change.mutation_id === undefined ? undefined : this.#pending.find((mutation) => mutation.mutationId === change.mutation_id);
    if (own) {
      own.applied = true;
      own.version = change.version;
      // Replayed by the outbox: its change is its answer (the outbox's report finds it gone).
      if (own.stored) {
        this.#pending.splice(this.#pending.indexOf(own), 1);
        own.resolve({ record_id: id, version: change.version, mutation_id: change.mutation_id });
      }
    }
    // A conflict's `current` may have told a newer version already.
    if (previous && previous.version >= change.version) return true;
    const info = { ...change, local: own !== undefined };
    if (change.op === 'delete') {
      this.#confirmed.delete(id);
      this.emit('delete', previous ?? { id, version: change.version, data: null }, info);
      return true;
    }
    const record = { id, version: change.version, data: change.data ?? null, updated_at: change.at ?? Date.now(), updated_by: change.by ?? null };
    this.#confirmed.set(id, record);
    if (change.op === 'insert' || !previous) this.emit('insert', record, info);
    else this.emit('update', record, previous, info);
    return true;
  }

  #applySnapshot(frame) {
    const first = this.#version === null;
    const previous = this.#confirmed;
    this.#confirmed = new Map();
    for (const record of Array.isArray(frame.records) ? frame.records : []) this.#confirmed.set(record.id, record);
    this.#version = frame.version;
    // A snapshot after a gap too long to resume: what changed meanwhile is told as changes.
    if (!first) {
      const info = (op, record) => ({ op, record_id: record.id, version: record.version, local: false });
      for (const [id, record] of previous) if (!this.#confirmed.has(id)) this.emit('delete', record, info('delete', record));
      for (const [id, record] of this.#confirmed) {
        const old = previous.get(id);
        if (!old) this.emit('insert', record, info('insert', record));
        else if (old.version !== record.version) this.emit('update', record, old, info('update', record));
      }
    }
    this.#rebuild();
    this.emit('snapshot', this.list(), this.#version);
  }

  [SYNC_FRAME](frame) {
    if (!this.#wanted) return;
    if (frame.type === 'sync_snapshot') this.#applySnapshot(frame);
    else if (frame.type === 'sync_changes') {
      for (const change of Array.isArray(frame.changes) ? frame.changes : []) this.#apply(change);
      if (typeof frame.version === 'number' && !(frame.version <= this.#version)) this.#version = frame.version;
    } else if (!this.#apply(frame)) return;
    // The answer to a subscribe: the records are the hub's from here on.
    if (frame.type !== 'sync_change') this.#setStatus('live');
    this.#changed();
    this.#pump(); // a mutation waiting for a stored one's version may go now
  }

  [CONNECTED]() {
    if (this.#wanted) this.#sendSubscribe();
    this.#pump(true);
  }

  [CONNECTION_LOST]() {
    this.#attempt++;
    if (this.#wanted) this.#setStatus(this.#version === null ? 'loading' : 'offline');
  }

  [STOPPED](error) {
    this.#settleWaiters(error);
    this.#sending = null;
    const mutations = this.#pending;
    this.#pending = [];
    this.#rollBack(mutations, error);
    if (this.#wanted) this.#setStatus('error');
  }
}

// ---------------------------------------------------------------------------------------------
// The client

/**
 * A connection to a Chorus hub. States: connecting, connected, reconnecting, disconnected,
 * error. Events: status (old, new), open, close, message, direct, signal, frame, auth,
 * disconnect, reconnect, error.
 */
export class ChorusClient extends EventEmitter {
  #urls; // every hub URL given, tried in turn
  #urlIndex = 0; // the one in use
  #options;
  #WebSocket;
  #state = 'disconnected';
  #socket = null;
  #generation = 0; // invalidates a connection attempt still waiting for its token
  #active = false; // the client wants to be connected
  #stopReason = null; // why it stopped for good, if it did
  #closedByUser = false;
  #attempts = 0; // consecutive reconnection attempts
  #reconnectTimer = null;
  #heartbeatTimer = null;
  #heartbeatInFlight = false;
  #openedAt = 0;
  #nextId = 0;
  #pending = new Map(); // request id → {resolve, reject, timer}
  #queue;
  #channels = new Map();
  #collections = new Map();
  #channelLink;
  #token;
  #tokenStale = false;
  #lastDisconnect = null; // the `disconnect` frame of the current connection
  #counters = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, reconnections: 0 };
  #latencies = [];
  // The browser's `offline` and `online` events, while the client is active (see #watchNetwork).
  #onOffline = () => this.#socket && this.#abandon(this.#socket, 'the browser went offline');
  #onOnline = () => this.#reconnectTimer !== null && this.#reconnectNow();

  /** What the hub said in `connected` or `auth_success`: {client, user, expiresAt}. */
  session = null;

  constructor(url, options = {}) {
    super();
    this.#options = options;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.#WebSocket !== 'function') {
      throw new TypeError('chorus: no WebSocket implementation; pass options.WebSocket');
    }
    // Validate now: a bad URL is a programming error, not something to retry.
    const urls = Array.isArray(url) ? url : [url];
    if (urls.length === 0) throw new TypeError('chorus: no hub URL given');
    this.#urls = urls.map((each) => new URL(each, globalThis.location?.href).toString());
    this.#token = options.token;
    this.#queue = new OfflineQueue(options.offlineQueue);
    this.#channelLink = {
      // `onId` learns the request's id before it is sent (so its reply can be told apart).
      send: (frame, onId) => this.#request(frame, undefined, onId),
      connected: () => this.#state === 'connected',
      stopReason: () => this.#stopReason,
      session: () => this.session,
    };
    if (options.autoConnect !== false) this.connect();
  }

  /** The hub URL in use (the next one of `urls` after each failed or lost connection). */
  get url() {
    return this.#urls[this.#urlIndex];
  }

  /** Every hub URL the client was given, in the order it tries them. */
  get urls() {
    return [...this.#urls];
  }

  get state() {
    return this.#state;
  }

  /** Whether close() was called (and connect() not since). */
  get closed() {
    return this.#closedByUser;
  }

  get stats() {
    const samples = this.#latencies;
    const average = samples.length ? samples.reduce((sum, value) => sum + value, 0) / samples.length : null;
    return {
      ...this.#counters,
      queued: this.#queue.size,
      latency: { last: samples.length ? samples[samples.length - 1] : null, average },
    };
  }

  /** Starts connecting (the constructor does this unless `autoConnect: false`). */
  connect() {
    if (this.#active) return this;
    this.#active = true;
    this.#stopReason = null;
    this.#closedByUser = false;
    this.#attempts = 0;
    this.#watchNetwork(true);
    this.#open('connecting');
    return this;
  }

  /** Closes the connection for good: no reconnection; queued and pending requests reject. */
  close() {
    this.#closedByUser = true;
    if (this.#dropSocket(new ChorusError('closed', 'the client was closed'), 'client closed')) {
      this.emit('close', { code: 1000, reason: 'client closed', disconnect: null });
    }
    this.#stop('disconnected', new ChorusError('closed', 'the client was closed'));
  }

  /**
   * The channel for a topic or pattern; the same object for the same name (options only count
   * on the call that creates it). `options.decode`: a function (data, message) → data or its
   * promise, or `{ module, export, as, pool }` to decode in a WebAssembly worker pool
   * (chorus-wasm.js).
   */
  channel(name, options) {
    let channel = this.#channels.get(name);
    if (!channel) {
      channel = new Channel(this, name, this.#channelLink, options);
      this.#channels.set(name, channel);
    }
    return channel;
  }

  /**
   * The sync collection `name` (a topic of a namespace with `sync: true`); the same object for
   * the same name. `options.maxPending`: most mutations waiting at once (default 1,000).
   */
  collection(name, options) {
    let collection = this.#collections.get(name);
    if (!collection) {
      collection = new Collection(this.#channelLink, name, options);
      this.#collections.set(name, collection);
    }
    return collection;
  }

  /**
   * Publishes to a topic; resolves with the hub's `ack`. While not connected, the publish is
   * queued (bounded; see `offlineQueue`) and sent once connected, in order.
   */
  publish(topic, event, data, { idempotencyKey } = {}) {
    // A Blob's bytes are read first; ArrayBuffers and typed arrays go out as a binary frame.
    if (typeof Blob === 'function' && data instanceof Blob) {
      return data.arrayBuffer().then((buffer) => this.publish(topic, event, buffer, { idempotencyKey }));
    }
    const frame = { type: 'publish', topic, data: data === undefined ? null : isBinaryData(data) ? bytesOf(data).slice() : data };
    if (event !== undefined && event !== null) frame.event = event;
    if (idempotencyKey !== undefined) frame.idempotency_key = idempotencyKey;
    return this.#publishFrame(frame);
  }

  /** Sends `data` to every connection of `user` (as a `message` with topic "direct"). */
  direct(user, event, data) {
    return this.send({ type: 'direct', to: user, event, data: data === undefined ? null : data });
  }

  // --- events: event_publish (docs/protocol.md, "Events") ---

  /**
   * Publishes an event on the hub's event bus (types the hub's `events_client_types` lists, for
   * a token with a user); resolves with the receipt `{sequence, event_id, timestamp, duplicate}`
   * once the event is durable. A schema violation rejects with code `invalid_event`, the
   * violations in `error.frame.violations`. Not queued offline: give `eventId` and resend.
   */
  publishEvent(type, data, { eventId, partitionKey, correlationId } = {}) {
    const frame = { type: 'event_publish', event_type: type, data: data === undefined ? null : data };
    if (eventId !== undefined) frame.event_id = eventId;
    if (partitionKey !== undefined) frame.partition_key = partitionKey;
    if (correlationId !== undefined) frame.correlation_id = correlationId;
    return this.send(frame);
  }

  /**
   * Sends any frame and resolves with the reply that echoes its id (rejects on `error`, on
   * timeout, or when not connected). Publish frames go through the offline queue.
   */
  send(frame, { timeout } = {}) {
    if (frame.type === 'publish' || frame.type === 'message') return this.#publishFrame(frame);
    if (this.#state !== 'connected') {
      return Promise.reject(new ChorusError('not_connected', `cannot send '${frame.type}' while ${this.#state}`));
    }
    return this.#request(frame, timeout);
  }

  /** Authenticates the open connection with `token` (also used for later reconnections). */
  async authenticate(token) {
    const reply = await this.send({ type: 'auth', token });
    this.#token = token;
    this.#tokenStale = false;
    return reply;
  }

  /** Measures one round trip to the hub, in milliseconds. */
  async ping({ timeout } = {}) {
    const started = monotonicNow();
    await this.send({ type: 'ping', timestamp: Date.now() }, { timeout });
    const latency = monotonicNow() - started;
    this.#latencies.push(latency);
    if (this.#latencies.length > LATENCY_WINDOW) this.#latencies.shift();
    return latency;
  }

  /**
   * A page of a topic's history from the hub's HTTP API (namespaces that keep history): by
   * default the last `limit` messages, newest first. `before` continues with older ones (pass
   * the previous page's `nextBefore`); `order: 'asc'` with `since` pages oldest first instead.
   * Resolves with {messages, nextBefore, nextSince, epoch, lastOffset}; an error answer rejects
   * with a ChorusError carrying the hub's code (and reason).
   */
  async history(topic, { limit = 50, before, since, order = 'desc' } = {}) {
    const url = new URL(this.url);
    url.protocol = url.protocol === 'wss:' || url.protocol === 'https:' ? 'https:' : 'http:';
    // The API sits beside the WebSocket endpoint (`…/ws` → `…/api/…`), behind a proxy's prefix too.
    url.pathname = `${url.pathname.replace(/\/ws\/?$/, '')}/api/topics/${encodeURIComponent(topic)}/history`;
    url.search = '';
    url.hash = '';
    url.searchParams.set('order', order);
    url.searchParams.set('limit', String(limit));
    if (before !== undefined) url.searchParams.set('before', String(before));
    if (since !== undefined) url.searchParams.set('since', String(since));
    const token = await this.#currentToken();
    const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = body?.error ?? { code: 'internal', message: `HTTP ${response.status}` };
      throw errorFromFrame({ type: 'error', ...error });
    }
    return {
      messages: body.messages,
      nextBefore: body.next_before ?? null,
      nextSince: body.next_since ?? null,
      epoch: body.epoch,
      lastOffset: body.last_offset,
    };
  }

  // --- connection lifecycle ---

  async #open(state) {
    this.#reconnectTimer = null;
    this.#setState(state);
    const generation = ++this.#generation;
    let token;
    try {
      token = await this.#currentToken();
    } catch (error) {
      if (generation !== this.#generation) return;
      this.emit('error', new ChorusError('token_failed', `getToken failed: ${error?.message ?? error}`));
      return this.#retry();
    }
    if (generation !== this.#generation) return; // close() was called meanwhile

    let socket;
    try {
      socket = new this.#WebSocket(this.#connectURL(token), [SUBPROTOCOL]);
    } catch (error) {
      return this.#stop('error', new ChorusError('connect_failed', error?.message ?? String(error)));
    }
    this.#socket = socket;
    this.#lastDisconnect = null;
    socket.binaryType = 'arraybuffer';
    // Each handler checks that its socket is still the current one: a socket we gave up on
    // (close(), heartbeat timeout) may still report events. On v1.1 the connection is open once
    // the hub says `connected` (its token accepted); a v1 hub says nothing first.
    socket.onopen = () => socket === this.#socket && socket.protocol !== SUBPROTOCOL && this.#handleOpen();
    socket.onmessage = (event) => socket === this.#socket && this.#handleData(event.data);
    socket.onerror = () => socket === this.#socket && this.emit('error', new ChorusError('socket_error', 'WebSocket error'));
    socket.onclose = (event) => socket === this.#socket && this.#handleClose(event.code, event.reason);
  }

  async #currentToken() {
    if (this.#options.getToken && (this.#token === undefined || this.#tokenStale)) {
      this.#token = await this.#options.getToken();
      this.#tokenStale = false;
    }
    return this.#token;
  }

  #connectURL(token) {
    const url = new URL(this.url);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    else if (url.protocol === 'https:') url.protocol = 'wss:';
    if (token) url.searchParams.set('token', token);
    if (this.#options.binary) url.searchParams.set('binary', '1');
    return url.toString();
  }

  #handleOpen() {
    const reconnected = this.#state === 'reconnecting';
    this.#openedAt = Date.now();
    if (reconnected) this.#counters.reconnections++;
    // Subscriptions first, then the queued publishes in order, and only then `connected`:
    // a publish made by a status listener must not overtake the queue.
    for (const channel of this.#channels.values()) channel[CONNECTED]();
    for (const collection of this.#collections.values()) collection[CONNECTED]();
    for (const entry of this.#queue.drain()) this.#request(entry.frame).then(entry.resolve, entry.reject);
    this.#startHeartbeat();
    this.#setState('connected');
    this.emit('open');
  }

  #handleData(data) {
    this.#counters.messagesReceived++;
    if (typeof data !== 'string') {
      // A binary frame is a binary message; its data is a Uint8Array.
      this.#counters.bytesReceived += data.byteLength;
      let frame;
      try {
        frame = decodeBinaryFrame(data);
      } catch (error) {
        this.emit('error', error);
        return;
      }
      return this.#handleFrame(frame);
    }
    this.#counters.bytesReceived += utf8.encode(data).length;
    let frame;
    try {
      frame = parseFrame(data);
    } catch {
      this.emit('error', new ChorusError('invalid_frame', 'the hub sent a frame that is not JSON (or base64 data that does not decode)'));
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    this.#handleFrame(frame);
  }

  #handleFrame(frame) {
    switch (frame.type) {
      case 'message':
        this.#handleMessage(frame);
        break;
      case 'presence_state':
      case 'presence_diff':
        // Only a channel of exactly that topic hears its presence (as the hub sends it).
        if (typeof frame.topic === 'string') this.channel(frame.topic)[PRESENCE_FRAME](frame);
        break;
      case 'sync_snapshot':
      case 'sync_changes':
      case 'sync_change':
        // Applied here, before the reply settles its request: the live changes come right after.
        this.#collections.get(frame.collection)?.[SYNC_FRAME](frame);
        break;
      case 'signal':
        this.emit('signal', frame);
        break;
      case 'connected':
        if (this.#state === 'connected') break; // only ever the first frame of a connection
        this.session = { client: frame.client, user: frame.user ?? null, expiresAt: frame.expires_at ?? null };
        // The token came with the connection: `connected` is its `auth_success`.
        if (frame.user != null) this.emit('auth', frame);
        this.#handleOpen();
        break;
      case 'auth_success':
        this.session = { client: frame.client, user: frame.user ?? null, expiresAt: frame.expires_at ?? null };
        this.emit('auth', frame);
        break;
      case 'disconnect':
        this.#lastDisconnect = frame;
        this.emit('disconnect', frame);
        break;
      case 'error':
        if (frame.reason === 'token_required' && this.#state !== 'connected') {
          // A v1.1 hub that needs a token, and this client has none: never usable, so not
          // `connected`, and no reconnection loop (give the client a token or getToken).
          const error = new ChorusError('token_required', frame.message ?? 'the hub needs a token', frame);
          error.reason = 'token_required';
          return this.#refuse(error);
        }
        // An error that answers a request rejects that request; others are news for everyone.
        if (frame.id === undefined) this.emit('error', errorFromFrame(frame));
        break;
    }
    if (frame.id !== undefined) this.#settle(frame);
    this.emit('frame', frame);
  }

  #handleMessage(message) {
    this.emit('message', message);
    // The hub relays direct messages with topic "direct"; they belong to no subscription.
    if (message.topic === 'direct') {
      this.emit('direct', message);
      return;
    }
    // The hub sends each message once per connection even when several subscriptions match,
    // so every matching channel is found here.
    for (const channel of this.#channels.values()) {
      if (typeof message.topic === 'string' && topicMatches(channel.name, message.topic)) channel[DELIVER](message);
    }
  }

  #handleClose(code, reason) {
    const disconnect = this.#lastDisconnect;
    const lived = Date.now() - this.#openedAt;
    const wasOpen = this.#state === 'connected';
    this.#connectionEnded(new ChorusError('disconnected', `the connection closed (${code})`));
    this.emit('close', { code, reason, disconnect });

    if (wasOpen && lived >= STABLE_CONNECTION_MS) this.#attempts = 0;
    const policy = closePolicy(code, disconnect);
    if (policy === 'stop') {
      // v1.1 keeps the human text in `message`; v1 in `reason`.
      const because = disconnect?.message || disconnect?.reason || reason || `close code ${code}`;
      return this.#stop('disconnected', new ChorusError('disconnected', `the hub ended the connection: ${because}`));
    }
    if (policy === 'refresh') {
      if (!this.#options.getToken) {
        return this.#stop('error', new ChorusError('token_expired', 'the token expired and there is no getToken to renew it'));
      }
      this.#tokenStale = true;
    }
    this.#retry();
  }

  /** Ends the connection for good because the hub refused it: closes the socket, stops in `error`. */
  #refuse(error) {
    this.#dropSocket(error, 'refused');
    this.#stop('error', error);
  }

  /**
   * Forgets the current socket first, so its close event, when it comes, is ignored, then closes
   * it (1000, `reason`); an attempt still waiting for its token is dropped too. False without one.
   */
  #dropSocket(error, reason) {
    this.#generation++;
    const socket = this.#socket;
    if (!socket) return false;
    this.#connectionEnded(error);
    try {
      socket.close(1000, reason);
    } catch {
      // Already closing.
    }
    return true;
  }

  /** Forgets the current socket: heartbeat off, requests in flight rejected, channels told. */
  #connectionEnded(error) {
    this.#socket = null;
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    for (const { reject, timer } of this.#pending.values()) {
      clearTimeout(timer);
      reject(error);
    }
    this.#pending.clear();
    for (const channel of this.#channels.values()) channel[CONNECTION_LOST]();
    for (const collection of this.#collections.values()) collection[CONNECTION_LOST]();
  }

  /**
   * In a browser, `offline` ends the connection at once (a socket whose network is gone may
   * otherwise look open until the heartbeat misses), and `online` cuts the backoff short.
   * `watchNetwork: false` turns this off.
   */
  #watchNetwork(on) {
    if (this.#options.watchNetwork === false || typeof globalThis.addEventListener !== 'function') return;
    const method = on ? 'addEventListener' : 'removeEventListener';
    globalThis[method]('offline', this.#onOffline);
    globalThis[method]('online', this.#onOnline);
  }

  #reconnectNow() {
    clearTimeout(this.#reconnectTimer);
    this.#open('reconnecting');
  }

  #retry() {
    const max = this.#options.maxReconnectAttempts ?? Infinity;
    if (this.#attempts >= max) {
      return this.#stop('error', new ChorusError('reconnect_failed', `gave up after ${this.#attempts} reconnection attempts`));
    }
    const delay = backoffDelay(this.#attempts, this.#options.backoff);
    this.#attempts++;
    // The next node of a cluster: the one just lost may be the one that is down.
    this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
    this.#setState('reconnecting');
    this.emit('reconnect', { attempt: this.#attempts, delay, url: this.url });
    this.#reconnectTimer = setTimeout(() => this.#open('reconnecting'), delay);
  }

  /** No more connection attempts; whatever waits for one is rejected with `error`. */
  #stop(state, error) {
    this.#active = false;
    this.#watchNetwork(false);
    this.#stopReason = error;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    for (const entry of this.#queue.drain()) entry.reject(error);
    for (const channel of this.#channels.values()) channel[STOPPED](error);
    for (const collection of this.#collections.values()) collection[STOPPED](error);
    this.#setState(state);
    if (state === 'error') this.emit('error', error);
  }

  #setState(next) {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.emit('status', previous, next);
  }

  // --- heartbeat ---

  #startHeartbeat() {
    const interval = this.#options.heartbeatInterval ?? 25000;
    if (!(interval > 0)) return;
    const timeout = Math.min(this.#options.requestTimeout ?? 10000, interval);
    this.#heartbeatTimer = setInterval(() => {
      if (this.#heartbeatInFlight) return;
      this.#heartbeatInFlight = true;
      const socket = this.#socket;
      this.ping({ timeout })
        .catch((error) => {
          // No pong in time: the connection is dead even if the socket has not noticed.
          if (error.code === 'timeout' && socket === this.#socket) this.#abandon(socket, 'heartbeat timeout');
        })
        .finally(() => {
          this.#heartbeatInFlight = false;
        });
    }, interval);
  }

  #abandon(socket, reason) {
    this.#handleClose(1006, reason);
    try {
      socket.close(4000, reason);
    } catch {
      // Already closing.
    }
  }

  // --- requests ---

  #publishFrame(frame) {
    if (this.#state === 'connected') return this.#request(frame);
    if (this.#stopReason) return Promise.reject(this.#stopReason);
    // A queued publish may be sent into a connection that drops before its ack: with a key, the
    // hub answers a resend (by the application, with the same frame) without delivering twice.
    if (frame.idempotency_key === undefined) frame = { ...frame, idempotency_key: newIdempotencyKey() };
    return new Promise((resolve, reject) => {
      const entry = { frame, resolve, reject };
      const turnedAway = this.#queue.push(entry);
      if (turnedAway === entry) {
        reject(new ChorusError('queue_full', `the offline queue is full (${this.#queue.limit})`));
      } else if (turnedAway) {
        turnedAway.reject(new ChorusError('queue_dropped', 'dropped from the full offline queue for a newer publish'));
      }
    });
  }

  #request(frame, timeout = this.#options.requestTimeout ?? 10000, onId = undefined) {
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) {
      return Promise.reject(new ChorusError('not_connected', `cannot send '${frame.type}': not connected`));
    }
    return new Promise((resolve, reject) => {
      const id = ++this.#nextId;
      onId?.(id);
      // Bytes go out as a binary frame (the frame's other fields in its header), the rest as JSON.
      const { data, ...header } = frame;
      const binary = data instanceof Uint8Array;
      const wire = binary ? encodeBinaryFrame({ ...header, id }, data) : JSON.stringify({ ...frame, id });
      // Sent before it is registered: if send throws, the promise rejects and nothing is left
      // behind. The reply cannot overtake this: it arrives in a later task.
      socket.send(wire);
      this.#counters.messagesSent++;
      this.#counters.bytesSent += binary ? wire.length : utf8.encode(wire).length;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ChorusError('timeout', `no reply to '${frame.type}' within ${timeout} ms`));
      }, timeout);
      this.#pending.set(id, { resolve, reject, timer });
    });
  }

  #settle(frame) {
    const pending = this.#pending.get(frame.id);
    if (!pending) return;
    this.#pending.delete(frame.id);
    clearTimeout(pending.timer);
    if (frame.type === 'error') pending.reject(errorFromFrame(frame));
    else pending.resolve(frame);
  }
}

// ---------------------------------------------------------------------------------------------
// One connection per hub per page

const sharedClients = new Map();

/**
 * The page's client for `url` (one hub URL, or a cluster's list): every caller shares one connection (and its channels) unless
 * `options.shared === false`. Options only count on the call that creates the client.
 */
export function getClient(url, options = {}) {
  if (options.shared === false) return new ChorusClient(url, options);
  const key = Array.isArray(url) ? url.join(' ') : url;
  const existing = sharedClients.get(key);
  if (existing && !existing.closed) return existing;
  const client = new ChorusClient(url, options);
  sharedClients.set(key, client);
  return client;
}

// ---------------------------------------------------------------------------------------------
// WebRTC: peer connections negotiated over the hub's `signal` frames

/** Marks the `signal` data PeerConnection sends, so an application may signal other things too. */
const WEBRTC_SIGNAL = 'webrtc';

/** Counters over every PeerConnection of the page. */
const peerTotals = { created: 0, active: 0, dataChannels: 0, messagesSent: 0, messagesReceived: 0, iceRestarts: 0, rollbacks: 0 };

/** Per client: its peer connections by remote client id, and the acceptors of new peers. */
const peerRegistries = new WeakMap();

function peerRegistry(client) {
  let registry = peerRegistries.get(client);
  if (!registry) {
    registry = { peers: new Map(), acceptors: new Set() };
    peerRegistries.set(client, registry);
    client.on('signal', (frame) => {
      const from = frame.from?.client;
      if (typeof from !== 'string' || frame.data?.kind !== WEBRTC_SIGNAL) return;
      const peer = registry.peers.get(from);
      if (peer) return peer[DELIVER](frame.data);
      // Only an offer starts a connection: candidates or a goodbye still on their way from a
      // connection closed here must not open a new one.
      if (frame.data.description?.type !== 'offer') return;
      for (const accept of registry.acceptors) {
        const made = accept(frame.from);
        if (made) return made[DELIVER](frame.data);
      }
    });
  }
  return registry;
}

/**
 * A WebRTC peer connection to another client of the hub (its client id, from presence),
 * negotiated over `signal` frames with "perfect negotiation": either side may add data
 * channels or tracks at any time. Roles come from the client ids: the side whose id sorts
 * after the other's is polite (it rolls back its own offer when both offer at once); the
 * impolite side ignores the colliding offer. An ICE connection that fails is restarted.
 *
 * Events: `datachannel` (channel), `open` (channel), `message` (data, channel), `track`
 * (track, streams), `state` (connectionState), `close`, `error`.
 */
export class PeerConnection extends EventEmitter {
  #client;
  #remote;
  #options;
  #pc;
  #channels = new Set();
  #queue = Promise.resolve(); // negotiation steps and incoming signals, one at a time
  #ignoreOffer = false;
  #closed = false;
  #counters = { dataChannels: 0, messagesSent: 0, messagesReceived: 0, iceRestarts: 0, rollbacks: 0, ignoredOffers: 0 };

  /**
   * `remote`: the other side's client id. Options: `configuration` (RTCConfiguration: ICE
   * servers…), `polite` (overrides the role), `RTCPeerConnection` (an implementation, for tests).
   */
  constructor(client, remote, options = {}) {
    super();
    const Implementation = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    if (typeof Implementation !== 'function') throw new TypeError('chorus: no RTCPeerConnection implementation');
    if (typeof remote !== 'string' || remote === '') throw new TypeError('chorus: PeerConnection needs the remote client id');
    const registry = peerRegistry(client);
    if (registry.peers.has(remote)) throw new Error(`chorus: there is already a PeerConnection to ${remote}`);
    this.#client = client;
    this.#remote = remote;
    this.#options = options;
    this.#pc = new Implementation(options.configuration ?? {});
    registry.peers.set(remote, this);
    peerTotals.created++;
    peerTotals.active++;
    this.#pc.addEventListener('negotiationneeded', () => this.#negotiate());
    this.#pc.addEventListener('icecandidate', ({ candidate }) => candidate && this.#signal({ candidate }));
    this.#pc.addEventListener('iceconnectionstatechange', () => {
      if (this.#pc.iceConnectionState === 'failed') this.restartIce();
    });
    this.#pc.addEventListener('connectionstatechange', () => this.emit('state', this.#pc.connectionState));
    this.#pc.addEventListener('datachannel', ({ channel }) => {
      this.#track(channel);
      this.emit('datachannel', channel);
    });
    this.#pc.addEventListener('track', ({ track, streams }) => this.emit('track', track, streams));
  }

  /**
   * Lets other clients call this one: `onPeer(peer)` is called with a new PeerConnection for
   * each client that signals first (its `from` {user, client} given to `options`, when a
   * function, to choose the options). Returns a function that stops accepting.
   */
  static accept(client, onPeer, options = {}) {
    const registry = peerRegistry(client);
    const accept = (from) => {
      const peer = new PeerConnection(client, from.client, typeof options === 'function' ? options(from) : options);
      onPeer(peer, from);
      return peer;
    };
    registry.acceptors.add(accept);
    return () => registry.acceptors.delete(accept);
  }

  /** The page's totals: {created, active, dataChannels, messagesSent, messagesReceived, iceRestarts, rollbacks}. */
  static get stats() {
    return { ...peerTotals };
  }

  /** The other side's client id. */
  get remote() {
    return this.#remote;
  }

  /** Whether this side gives way when both offer at once. */
  get polite() {
    return this.#options.polite ?? String(this.#client.session?.client ?? '') > this.#remote;
  }

  /** The underlying RTCPeerConnection. */
  get connection() {
    return this.#pc;
  }

  get connectionState() {
    return this.#closed ? 'closed' : this.#pc.connectionState;
  }

  /** This connection's counters: data channels, messages sent (through send()) and received, ICE restarts, glare. */
  get stats() {
    return { ...this.#counters };
  }

  /** Opens a data channel (negotiated with the other side); its messages are counted. */
  createDataChannel(label, options) {
    const channel = this.#pc.createDataChannel(label, options);
    this.#track(channel);
    return channel;
  }

  /** Sends `data` on the open data channel named `label` (default: the first open one). */
  send(data, label) {
    const channel = [...this.#channels].find((each) => each.readyState === 'open' && (label === undefined || each.label === label));
    if (!channel) throw new ChorusError('not_open', label === undefined ? 'no open data channel' : `no open data channel '${label}'`);
    channel.send(data);
    this.#counters.messagesSent++;
    peerTotals.messagesSent++;
  }

  /** Sends a media track (and renegotiates). */
  addTrack(track, ...streams) {
    return this.#pc.addTrack(track, ...streams);
  }

  /** Sends every track of a MediaStream. */
  addStream(stream) {
    return stream.getTracks().map((track) => this.#pc.addTrack(track, stream));
  }

  /** Restarts ICE (done by itself when the ICE connection fails). */
  restartIce() {
    if (this.#closed) return;
    this.#counters.iceRestarts++;
    peerTotals.iceRestarts++;
    this.#pc.restartIce();
  }

  /** Closes the connection and tells the other side. */
  close() {
    if (this.#closed) return;
    this.#signal({ bye: true });
    this.#end();
  }

  #end() {
    this.#closed = true;
    peerTotals.active--;
    const registry = peerRegistry(this.#client);
    if (registry.peers.get(this.#remote) === this) registry.peers.delete(this.#remote);
    this.#pc.close();
    this.emit('close');
  }

  #track(channel) {
    this.#channels.add(channel);
    this.#counters.dataChannels++;
    peerTotals.dataChannels++;
    channel.addEventListener('open', () => this.emit('open', channel));
    channel.addEventListener('close', () => this.#channels.delete(channel));
    channel.addEventListener('message', (event) => {
      this.#counters.messagesReceived++;
      peerTotals.messagesReceived++;
      this.emit('message', event.data, channel);
    });
  }

  /** Runs `step` after every earlier one: a signal is never handled halfway through another. */
  #serially(step) {
    this.#queue = this.#queue.then(step).catch((error) => {
      if (!this.#closed) this.emit('error', error);
    });
    return this.#queue;
  }

  #negotiate() {
    return this.#serially(async () => {
      // Not stable: an offer is being answered; the browser asks again once it is stable.
      if (this.#closed || this.#pc.signalingState !== 'stable') return;
      await this.#pc.setLocalDescription();
      this.#signal({ description: this.#pc.localDescription });
    });
  }

  [DELIVER](data) {
    if (data.bye) return this.#closed || this.#end();
    return this.#serially(async () => {
      if (this.#closed) return;
      if (data.description) await this.#receiveDescription(data.description);
      else if (data.candidate) await this.#receiveCandidate(data.candidate);
    });
  }

  async #receiveDescription(description) {
    // Glare: both sides offered at once. The impolite side ignores the other's offer; the
    // polite one rolls its own back and answers.
    const collision = description.type === 'offer' && this.#pc.signalingState !== 'stable';
    this.#ignoreOffer = collision && !this.polite;
    if (this.#ignoreOffer) {
      this.#counters.ignoredOffers++;
      return;
    }
    if (collision) {
      await this.#pc.setLocalDescription({ type: 'rollback' });
      this.#counters.rollbacks++;
      peerTotals.rollbacks++;
    }
    await this.#pc.setRemoteDescription(description);
    if (description.type === 'offer') {
      await this.#pc.setLocalDescription();
      this.#signal({ description: this.#pc.localDescription });
    }
  }

  async #receiveCandidate(candidate) {
    try {
      await this.#pc.addIceCandidate(candidate);
    } catch (error) {
      // Candidates of an offer this side ignored cannot be added, and need not be.
      if (!this.#ignoreOffer) throw error;
    }
  }

  #signal(fields) {
    this.#client.send({ type: 'signal', to: this.#remote, data: { kind: WEBRTC_SIGNAL, ...jsonOf(fields) } })
      .catch((error) => !this.#closed && this.emit('error', error));
  }
}

/** RTCSessionDescription and RTCIceCandidate as plain JSON (their toJSON). */
function jsonOf(fields) {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, value?.toJSON ? value.toJSON() : value]));
}

// ---------------------------------------------------------------------------------------------
// Server-Sent Events (receive only)

/** Transport events that are not message event names. */
const SSE_OWN_EVENTS = new Set(['open', 'error', 'status', 'disconnect']);

/**
 * Receives messages over `GET /sse?topic=…` with EventSource. The browser reconnects by itself
 * and sends Last-Event-ID, so the hub can resume the stream.
 *
 * EventSource hands a named event only to listeners of that name, so this transport sees the
 * event names it has listeners for: `on('chat', fn)` listens for `chat`; `message` listeners
 * get every message whose event is `message` or has a listener.
 */
export class EventSourceTransport extends EventEmitter {
  #url;
  #topics;
  #options;
  #EventSource;
  #source = null;
  #state = 'closed';
  #names = new Set(['message', 'disconnect']); // event names listened for on the EventSource
  #generation = 0;

  /** The id of the last event received (the resume token the browser sends back). */
  lastEventId = null;

  constructor(url, topics, options = {}) {
    super();
    this.#EventSource = options.EventSource ?? globalThis.EventSource;
    if (typeof this.#EventSource !== 'function') {
      throw new TypeError('chorus: no EventSource implementation; pass options.EventSource');
    }
    this.#url = new URL(url, globalThis.location?.href).toString();
    this.#topics = typeof topics === 'string' ? [topics] : [...topics];
    if (this.#topics.length === 0) throw new TypeError('chorus: subscribeSSE needs at least one topic');
    this.#options = options;
    if (options.autoConnect !== false) this.open();
  }

  /** 'connecting', 'open' or 'closed'. */
  get state() {
    return this.#state;
  }

  on(event, listener) {
    super.on(event, listener);
    if (!SSE_OWN_EVENTS.has(event) && !this.#names.has(event)) {
      this.#names.add(event);
      this.#source?.addEventListener(event, this.#onEvent);
    }
    return this;
  }

  /** Opens the stream (again), with a fresh token from getToken when there is one. */
  async open() {
    this.#source?.close();
    this.#source = null;
    const generation = ++this.#generation;
    this.#setState('connecting');
    let token = this.#options.token;
    try {
      if (this.#options.getToken) token = await this.#options.getToken();
    } catch (error) {
      this.#setState('closed');
      this.emit('error', new ChorusError('token_failed', `getToken failed: ${error?.message ?? error}`));
      return;
    }
    if (generation !== this.#generation) return; // closed or reopened meanwhile
    const source = new this.#EventSource(this.#streamURL(token), { withCredentials: !!this.#options.withCredentials });
    this.#source = source;
    source.onopen = () => {
      if (source !== this.#source) return;
      this.#setState('open');
      this.emit('open');
    };
    source.onerror = () => {
      if (source !== this.#source) return;
      // CLOSED means the browser gave up (e.g. 401 or 400); otherwise it is retrying.
      this.#setState(source.readyState === 2 ? 'closed' : 'connecting');
      this.emit('error', new ChorusError('sse_error', source.readyState === 2 ? 'the stream failed' : 'the stream dropped; retrying'));
    };
    for (const name of this.#names) source.addEventListener(name, this.#onEvent);
  }

  close() {
    this.#generation++;
    this.#source?.close();
    this.#source = null;
    this.#setState('closed');
  }

  #streamURL(token) {
    const url = new URL(this.#url);
    for (const topic of this.#topics) url.searchParams.append('topic', topic);
    if (token) url.searchParams.set('token', token);
    return url.toString();
  }

  #onEvent = (event) => {
    if (event.target && event.target !== this.#source) return;
    let frame;
    try {
      frame = parseFrame(event.data);
    } catch {
      this.emit('error', new ChorusError('invalid_frame', `event '${event.type}' does not carry JSON (or its base64 data does not decode)`));
      return;
    }
    if (event.lastEventId) this.lastEventId = event.lastEventId;
    if (event.type === 'disconnect') return this.#handleDisconnect(frame);
    this.emit('message', frame);
    if (event.type !== 'message') this.emit(event.type, frame.data, frame);
  };

  #handleDisconnect(frame) {
    this.emit('disconnect', frame);
    if (frame.code === TOKEN_CLOSE_CODE && frame.reconnect && this.#options.getToken) {
      // The URL carries the token, so the browser's own retry would present the expired one.
      this.open();
    } else if (!frame.reconnect) {
      this.close(); // otherwise the browser would reconnect on its own
    }
  }

  #setState(next) {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.emit('status', previous, next);
  }
}

/**
 * Receives `topics` over SSE. `handlers` maps event names (and `open`, `error`, `status`,
 * `disconnect`) to listeners. Returns the transport; call `close()` to stop.
 */
export function subscribeSSE(url, topics, handlers = {}, options = {}) {
  const transport = new EventSourceTransport(url, topics, { ...options, autoConnect: false });
  for (const [event, listener] of Object.entries(handlers)) transport.on(event, listener);
  if (options.autoConnect !== false) transport.open();
  return transport;
}
