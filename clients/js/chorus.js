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
  }

  [CONNECTION_LOST]() {
    if (this.#live) this.#gap = true;
    this.#live = false;
    this.#inFlight = false;
    this.#attempt++;
  }

  [STOPPED](error) {
    this.#settleWaiters(error);
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
// The client

/**
 * A connection to a Chorus hub. States: connecting, connected, reconnecting, disconnected,
 * error. Events: status (old, new), open, close, message, direct, frame, auth, disconnect,
 * reconnect, error.
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
  #channelLink;
  #token;
  #tokenStale = false;
  #lastDisconnect = null; // the `disconnect` frame of the current connection
  #counters = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0, reconnections: 0 };
  #latencies = [];

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
      send: (frame) => this.#request(frame),
      connected: () => this.#state === 'connected',
      stopReason: () => this.#stopReason,
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
   * Publishes to a topic; resolves with the hub's `ack`. While not connected, the publish is
   * queued (bounded; see `offlineQueue`) and sent once connected, in order.
   */
  publish(topic, event, data, { idempotencyKey } = {}) {
    const frame = { type: 'publish', topic, data: data === undefined ? null : data };
    if (event !== undefined && event !== null) frame.event = event;
    if (idempotencyKey !== undefined) frame.idempotency_key = idempotencyKey;
    return this.#publishFrame(frame);
  }

  /** Sends `data` to every connection of `user` (as a `message` with topic "direct"). */
  direct(user, event, data) {
    return this.send({ type: 'direct', to: user, event, data: data === undefined ? null : data });
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
    return url.toString();
  }

  #handleOpen() {
    const reconnected = this.#state === 'reconnecting';
    this.#openedAt = Date.now();
    if (reconnected) this.#counters.reconnections++;
    // Subscriptions first, then the queued publishes in order, and only then `connected`:
    // a publish made by a status listener must not overtake the queue.
    for (const channel of this.#channels.values()) channel[CONNECTED]();
    for (const entry of this.#queue.drain()) this.#request(entry.frame).then(entry.resolve, entry.reject);
    this.#startHeartbeat();
    this.#setState('connected');
    this.emit('open');
  }

  #handleData(data) {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
    this.#counters.messagesReceived++;
    this.#counters.bytesReceived += utf8.encode(text).length;
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      this.emit('error', new ChorusError('invalid_frame', 'the hub sent a frame that is not JSON'));
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
    this.#stopReason = error;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    for (const entry of this.#queue.drain()) entry.reject(error);
    for (const channel of this.#channels.values()) channel[STOPPED](error);
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

  #request(frame, timeout = this.#options.requestTimeout ?? 10000) {
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) {
      return Promise.reject(new ChorusError('not_connected', `cannot send '${frame.type}': not connected`));
    }
    return new Promise((resolve, reject) => {
      const id = ++this.#nextId;
      const text = JSON.stringify({ ...frame, id });
      // Sent before it is registered: if send throws, the promise rejects and nothing is left
      // behind. The reply cannot overtake this: it arrives in a later task.
      socket.send(text);
      this.#counters.messagesSent++;
      this.#counters.bytesSent += utf8.encode(text).length;
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
      frame = JSON.parse(event.data);
    } catch {
      this.emit('error', new ChorusError('invalid_frame', `event '${event.type}' does not carry JSON`));
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
