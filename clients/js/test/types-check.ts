// Compiled by `tsc --noEmit -p clients/js` (never run): the declarations must describe a
// usable API under --strict. Lines marked @ts-expect-error must stay errors.
import {
  ChorusClient,
  ChorusError,
  EventEmitter,
  OfflineQueue,
  PeerConnection,
  SUBPROTOCOL,
  backoffDelay,
  closePolicy,
  decodeBinaryFrame,
  encodeBinaryFrame,
  getClient,
  subscribeSSE,
  topicMatches,
  type AckFrame,
  type ConnectionState,
  type MessageFrame,
  type PresenceMember,
  type PresenceStateFrame,
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
import { ConnectionStatus, PresenceAvatars, RealtimeIndicator, useChorus, useRealtimeChannel, useRealtimePresence, useRealtimeSync, useWebSocket } from '../react.js';

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
  try {
    const receipt = await client.publishEvent('chat.typing', { room: 'r1' }, { eventId: 'e-1', partitionKey: 'r1' });
    console.log(receipt.sequence, receipt.event_id, receipt.timestamp, receipt.duplicate);
  } catch (error) {
    if (error instanceof ChorusError && error.code === 'invalid_event') console.log(error.frame?.violations?.[0]?.instance_location);
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

// Presence: join, events, members by user; the React hook and avatars.
const meeting = client.channel('room:a');
meeting.presence.join({ name: 'Ada', status: 'online', cursor: { x: 1, y: 2 } }).then((state: PresenceStateFrame) => state.count);
meeting.presence.on('join', (member: PresenceMember) => member.client);
meeting.presence.on('update', (member, previous) => [member.meta.status, previous.meta.status]);
meeting.presence.on('sync', (users) => users.map((user) => user.connections.length));
meeting.presence.setStatus('away');
// Large rooms: a first page, the rest in pages; one page by hand.
meeting.presence.join({ name: 'Ada' }, { limit: 100, pageSize: 500, walk: true }).then((state) => state.next);
meeting.presence.page({ limit: 20 }).then((page) => meeting.presence.page({ limit: 20, after: page.next }));
const complete: boolean = meeting.presence.complete;
void complete;
// @ts-expect-error: meta is an object
meeting.presence.join('online');
const { users, onlineCount, updateStatus } = useRealtimePresence({ channel: meeting, user: { name: 'Ada' }, limit: 100 });
updateStatus('busy');
PresenceAvatars({ users, max: 5 });
const count: number = onlineCount;

// WebRTC: perfect negotiation over signal frames.
const peer = new PeerConnection(client, 'client-id', { configuration: { iceServers: [] } });
peer.createDataChannel('chat');
peer.on('message', (data: unknown, channel: RTCDataChannel) => [data, channel.label]);
peer.on('track', (track: MediaStreamTrack) => track.kind);
peer.send('hi', 'chat');
const created: number = PeerConnection.stats.created + peer.stats.messagesSent + count;
const stopAccepting: () => void = PeerConnection.accept(client, (other, from) => [other.remote, from.user]);
stopAccepting();
void created;

// Binary messages: bytes in, Uint8Array out.
async function binaryMessages(): Promise<void> {
  const client = new ChorusClient('ws://hub.test/ws', { binary: true });
  await client.publish('files', 'png', new Uint8Array([1, 2]));
  await client.publish('files', 'png', new ArrayBuffer(4));
  await client.publish('files', 'png', new Blob(['x']));
  const frame: Uint8Array = encodeBinaryFrame({ type: 'publish', topic: 'files' }, new Uint8Array(1));
  const bytes: Uint8Array = decodeBinaryFrame(frame).data;
  void bytes;
}
void binaryMessages;

// Sync collections: records, mutations with base versions, events; the React hook.
interface Task { title: string; done: boolean }
const board = client.collection<Task>('tasks:board');
board.subscribe().then((records) => records.map((record) => record.data.title));
board.insert({ title: 'Ship', done: false }, { id: 't1' }).then((ack) => ack.version + ack.record_id.length);
board.update('t1', { title: 'Ship', done: true });
board.update('t1', { title: 'Ship it', done: true }, { baseVersion: null });
board.remove('t1', { baseVersion: 3 });
board.on('update', (record, previous, change) => [record.data.done, previous.version, change.local]);
board.on('rollback', ({ error, current }) => [error.code, current?.data.title]);
board.on('status', (status) => status === 'offline');
const pendingFlag: true | undefined = board.get('t1')?.pending;
// Offline mutations through the service worker's outbox, settled by its reports.
const outboxed = client.collection<Task>('tasks:outboxed', { outbox: (mutation) => pwa.queueMutation(mutation, { token: 'jwt' }) });
pwa.on('mutated', (report) => outboxed.outboxReport(report));
pwa.on('mutationRejected', (report) => [outboxed.outboxReport(report), report.error.code === 'conflict', report.current?.version]);
void pwa.queueMutation({ collection: 'tasks:outboxed', op: 'update', record_id: 't1', data: {}, base_version: 2, mutation_id: 'm1' });
// @ts-expect-error: data is a Task
board.insert({ title: 1 });
const synced = useRealtimeSync<Task>({
  channel: 'demo', client, resource: 'tasks', initialData: [],
  onInsert: (record) => record.data.title, onDelete: (previous, change) => [previous.id, change.version],
});
synced.insert({ title: 'Write docs', done: false });
const syncStatus: 'idle' | 'loading' | 'live' | 'offline' | 'error' = synced.status;
void [pendingFlag, syncStatus, synced.data.length];
