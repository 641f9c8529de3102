// Compiled by `tsc --noEmit -p clients/js` (never run): the declarations must describe a
// usable API under --strict. Lines marked @ts-expect-error must stay errors.
import {
  ChorusClient,
  ChorusError,
  EventEmitter,
  OfflineQueue,
  SUBPROTOCOL,
  backoffDelay,
  closePolicy,
  getClient,
  subscribeSSE,
  topicMatches,
  type AckFrame,
  type ConnectionState,
  type MessageFrame,
  type SubscribedFrame,
} from '../chorus.js';
import { ChorusPWA, UPDATE_STRATEGIES, registerServiceWorker } from '../chorus-pwa.js';
import {
  WasmLoader,
  WorkerPool,
  benchmark,
  cacheDecision,
  detectFeatures,
  instantiate,
  load,
  stats,
  type Features,
  type TaskResult,
} from '../chorus-wasm.js';
import { ConnectionStatus, RealtimeIndicator, useChorus, useRealtimeChannel, useWebSocket } from '../react.js';

// The browser's own WebSocket and EventSource satisfy the injectable interfaces.
const client = new ChorusClient('wss://hub.example/ws', {
  WebSocket,
  getToken: async () => 'jwt',
  backoff: { base: 500, cap: 10_000, random: Math.random },
  maxReconnectAttempts: 20,
  heartbeatInterval: 15_000,
  requestTimeout: 5_000,
  offlineQueue: { limit: 50, policy: 'drop-oldest' },
});

client.on('status', (previous: ConnectionState, current: ConnectionState) => console.log(previous, '→', current));
client.on('close', ({ code, reason, disconnect }) => console.log(code, reason, disconnect?.reconnect));
client.on('reconnect', ({ attempt, delay }) => console.log(attempt, delay));
client.on('error', (error) => console.error(error.message));
client.on('direct', (message) => console.log(message.from?.user));
client.on('auth', (frame) => console.log(frame.client, frame.user, frame.expires_at));
client.on('disconnect', (frame) => console.log(frame.reason === 'token_expired', frame.message));
const policy: 'reconnect' | 'refresh' | 'stop' = closePolicy(4001, { type: 'disconnect', code: 4001, reason: 'token_invalid', reconnect: false });
console.log(policy, new WebSocket('wss://hub.example/ws', [SUBPROTOCOL]).protocol);
// @ts-expect-error: not a client event
client.on('no-such-event', () => {});

const room = client.channel('chat:room1');
room.on('typing', (data, message) => console.log(data.user, message.topic, message.offset));
room.on('message', (message: MessageFrame) => console.log(message.event));
room.on('recovery_failed', ({ topic, reply }) => console.log(topic, reply.recovered));
room.on('subscribed', (frame) => console.log(frame.epoch));

async function flow(): Promise<void> {
  const subscribed: SubscribedFrame = await room.subscribe();
  const ack: AckFrame = await room.publish('msg', { text: 'hi' }, { idempotencyKey: 'k1' });
  const ack2 = await client.publish('chat:room1', undefined, [1, 2, 3]);
  const pong = await client.send({ type: 'ping', timestamp: Date.now() });
  const custom = await client.send({ type: 'chat:send', text: 'hi' }, { timeout: 1000 });
  const latency: number = await client.ping();
  const auth = await client.authenticate('jwt-2');
  await room.unsubscribe();
  console.log(subscribed.topic, ack.message_id, ack2.offset, pong.timestamp, custom.type, latency, auth.user);
  console.log(client.stats.latency.average, client.stats.queued, client.session?.user, room.state, room.position()?.offset);
  try {
    await client.direct('bob', 'offer', { sdp: '' });
  } catch (error) {
    if (error instanceof ChorusError && error.code === 'timeout') console.log(error.frame?.message, error.reason);
  }
}
void flow();

const shared: ChorusClient = getClient('wss://hub.example/ws', { shared: true });
const delay: number = backoffDelay(3, { base: 1000, cap: 30_000 });
const matches: boolean = topicMatches('chat.*', 'chat.a');
const queue = new OfflineQueue<string>({ limit: 2, policy: 'reject' });
const turnedAway: string | undefined = queue.push('a');
const emitter = new EventEmitter();
emitter.on('anything', (...args: unknown[]) => console.log(args)).emit('anything', 1, 2);
console.log(shared.state, delay, matches, turnedAway, emitter.listenerCount('anything'));

const stream = subscribeSSE('/sse', ['chat.*'], {
  price: (data: { v: number }) => console.log(data.v),
  status: (previous, current) => console.log(previous, current),
  disconnect: (frame) => console.log(frame.reconnect),
}, { EventSource, getToken: () => 'jwt' });
stream.on('price', (data, message) => console.log(data, message.message_id));
stream.close();

// React (no JSX here; the hooks are called as a component would).
function Room(): unknown {
  const { client: hubClient, status, isConnected, send } = useChorus('wss://hub.example/ws', { token: 'jwt' });
  const { publish, lastMessage } = useRealtimeChannel(hubClient, 'chat:room1', {
    msg: (data, message) => console.log(data, message.ts),
    recovery_failed: ({ topic }) => console.log('refetch', topic),
  });
  void send({ type: 'ping' });
  void publish('msg', { text: 'hi' });
  console.log(status, isConnected, lastMessage?.data, useWebSocket === useChorus);
  return [ConnectionStatus({ client: hubClient, labels: { error: 'Offline' } }), RealtimeIndicator({ status, label: 'On air' })];
}
console.log(Room);

// The page side of the service worker.
const pwa = registerServiceWorker({ updateStrategy: 'manual' });
pwa.on('updateAvailable', (update) => { if (confirm('Update?')) update.apply(); });
pwa.on('offline', () => console.log(pwa.online));
void pwa.storage().then((report) => console.log(report.quota, report.caches.map((c) => c.bytes)));
void pwa.clearCache('chorus-demo-history-v1');
void pwa.requestBackgroundSync('chorus-publish').then((ok: boolean) => ok);
console.log(new ChorusPWA().waiting?.state, UPDATE_STRATEGIES);
pwa.on('published', ({ publish, ack }) => console.log(publish.idempotency_key, ack.message_id));
void pwa.queuePublish({ topic: 'chat:a', data: { text: 'hi' }, idempotency_key: 'k' }, { token: 'jwt' }).then((queued: boolean) => queued);
void pwa.flushOutbox().then((flush) => flush?.pending);
// @ts-expect-error: a queued publish needs its idempotency key
void pwa.queuePublish({ topic: 'chat:a', data: 1 });
// @ts-expect-error: not an update strategy
new ChorusPWA({ updateStrategy: 'later' });
// @ts-expect-error: not an event of ChorusPWA
pwa.on('message', () => {});

// The WebAssembly loader, its pool, and a channel decoding through it.
async function wasm(): Promise<void> {
  const loader = new WasmLoader({ maxAge: 60_000, caches });
  const module: WebAssembly.Module = await loader.load('/wasm/kernels.wasm', { persist: false });
  const kernels = await instantiate(module, { imports: {}, memory: { initial: 2, maximum: 16 } });
  const checksum = kernels.call('adler32', { input: new Uint8Array(8) }).value;
  const decoded = kernels.call('base64_decode', { input: 'aGk=', output: true }).output?.byteLength;
  const pool = new WorkerPool({ size: 2, importsURL: '/wasm/busy-imports.js' });
  const result: TaskResult = await pool.run({ module: '/wasm/busy.wasm', export: 'busy', args: [5] });
  const bytes = new Uint8Array(1024);
  await pool.run({ module, export: 'adler32', input: bytes, transfer: [bytes.buffer] });
  const features: Features = detectFeatures();
  const figure = await benchmark({ wasm: () => kernels.call('adler32', { input: bytes }), js: () => bytes.reduce((a, b) => a + b, 0), iterations: 10 });
  console.log(checksum, decoded, result.ended - result.started, features.simd, figure.speedup, pool.stats.averageTaskMs, stats().cacheHits);
  console.log(cacheDecision(0, 1, 2) === 'hit', (await load('/wasm/kernels.wasm')) instanceof WebAssembly.Module, loader.stats.persistentHits);
  pool.terminate();
  const packets = client.channel('sensors:1', { decode: { module: '/wasm/kernels.wasm', export: 'base64_decode', as: 'json', pool } });
  packets.on('reading', (data, message) => console.log(data, message.encoded));
  client.channel('sensors:2', { decode: (data: string) => JSON.parse(atob(data)) });
  // @ts-expect-error: not a way to decode
  client.channel('sensors:3', { decode: { module: '/wasm/kernels.wasm', export: 'base64_decode', as: 'xml' } });
  // @ts-expect-error: a task names the export it runs
  void pool.run({ module });
}
void wasm();
