// Type declarations for chorus.js, the Chorus browser client (protocol v1.1, docs/protocol.md).
import type { WasmDecodeOptions } from './chorus-wasm.js';

// ---------------------------------------------------------------------------------------------
// Frames

/** A request id; the hub echoes it in the reply. The client uses numbers. */
export type RequestId = number | string;

/** Error codes: the hub's (docs/protocol.md) and the client's own. */
export type ChorusErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'too_large'
  | 'rate_limited'
  | 'unknown_type'
  | 'internal'
  /** An event's data fails its type's schema (`publishEvent`): the frame has the `violations`. */
  | 'invalid_event'
  /** The hub is shutting down: publish again once reconnected. */
  | 'unavailable'
  /** No reply within the request timeout. */
  | 'timeout'
  /** The connection ended while the request was in flight, or the hub ended it for good. */
  | 'disconnected'
  /** close() was called. */
  | 'closed'
  | 'not_connected'
  | 'queue_full'
  | 'queue_dropped'
  | 'reconnect_failed'
  | 'token_expired'
  | 'token_failed'
  /** The hub needs a token and the client has none (v1.1): it stops, never `connected`. */
  | 'token_required'
  | 'connect_failed'
  | 'socket_error'
  | 'sse_error'
  | 'invalid_frame'
  | 'unsubscribed'
  /** A channel's `decode` failed for a message (the error's `frame` is that message). */
  | 'decode_failed'
  /** chorus-wasm.js: fetching, compiling, instantiating or calling a module. */
  | 'wasm_fetch_failed'
  | 'wasm_compile_failed'
  | 'wasm_instantiate_failed'
  | 'wasm_no_memory_import'
  | 'wasm_no_export'
  | 'wasm_abi'
  | 'wasm_kernel_error'
  | 'wasm_task_failed'
  | 'wasm_worker_failed'
  | 'pool_terminated'
  /** presence.update() before join(). */
  | 'not_joined'
  /** A pending presence.join() when leave() was called. */
  | 'left'
  /** PeerConnection.send() with no open data channel (of that label). */
  | 'not_open'
  | (string & {});

/** Why the hub refused something or ended the connection (v1.1; docs/protocol.md, "Reasons"). */
export type ReasonCode =
  /** Get a new token and reconnect (the client does, with getToken). */
  | 'token_expired'
  /** The token will never be accepted. */
  | 'token_invalid'
  /** The hub needs a token and none came with the connection: send `auth`, or reconnect with one. */
  | 'token_required'
  | 'shutdown'
  | 'idle_timeout'
  | 'rate_limited'
  | 'too_many_connections'
  /** POST /api/users/{user}/disconnect; `message` is the caller's text. */
  | 'kicked'
  | 'protocol_error'
  | 'message_too_large'
  | (string & {});

/** The subprotocol that asks for protocol v1.1. */
export declare const SUBPROTOCOL: 'chorus.v1.1';

export interface MessageFrame<Data = any> {
  type: 'message';
  topic: string;
  event: string;
  data: Data;
  message_id: string;
  /** Milliseconds since the Unix epoch, hub clock. */
  ts: number;
  /** Per-topic position, when the topic's namespace keeps history. */
  offset?: number;
  epoch?: string;
  from?: { user: string | null; client: string };
  /** The pattern that matched, for pattern subscriptions. */
  sub?: string;
  /** On a channel with `decode`: the data as it arrived (`data` is the decoded value). */
  encoded?: unknown;
  /** A binary message that came as JSON: `data` was base64, the client made it a Uint8Array. */
  encoding?: 'base64';
}

/** Data published as a binary message (docs/protocol.md, "Binary frames"); it arrives as a Uint8Array. */
export type BinaryData = ArrayBuffer | ArrayBufferView | Blob;

/** Whether `data` is published as a binary message. */
export declare function isBinaryData(data: unknown): data is BinaryData;
/** A binary frame: version 1, the header's length, `header` as JSON, then `data`. */
export declare function encodeBinaryFrame(header: Record<string, unknown>, data: ArrayBuffer | ArrayBufferView): Uint8Array;
/** The fields of a binary frame's header, with `data` the bytes after it; throws a ChorusError `invalid_frame`. */
export declare function decodeBinaryFrame(frame: ArrayBuffer | ArrayBufferView): Record<string, unknown> & { data: Uint8Array };

export interface SubscribedFrame {
  type: 'subscribed';
  id?: RequestId;
  topic: string;
  offset?: number;
  epoch?: string;
  recovered?: boolean;
}

export interface UnsubscribedFrame {
  type: 'unsubscribed';
  id?: RequestId;
  topic: string;
}

export interface AckFrame {
  type: 'ack';
  id?: RequestId;
  message_id?: string;
  offset?: number;
  epoch?: string;
}

export interface PongFrame {
  type: 'pong';
  id?: RequestId;
  timestamp?: unknown;
}

/** The first frame of a v1.1 connection: the hub accepted it (and its token, if any). */
export interface ConnectedFrame {
  type: 'connected';
  client: string;
  /** Present when a token came with the connection. */
  user?: string;
  protocol: string;
  /** Milliseconds since the Unix epoch. */
  expires_at?: number;
}

export interface AuthSuccessFrame {
  type: 'auth_success';
  id?: RequestId;
  client: string;
  user: string | null;
  /** Milliseconds since the Unix epoch. */
  expires_at?: number;
}

export interface ErrorFrame {
  type: 'error';
  id?: RequestId;
  code: ChorusErrorCode;
  /** v1.1, where the code alone is ambiguous (e.g. `unauthorized`: token_expired or token_invalid). */
  reason?: ReasonCode;
  message: string;
  /** `invalid_event`: where the event's data fails its type's schema. */
  violations?: SchemaViolation[];
}

/** One failure of an event's data against its type's JSON Schema (JSON pointers). */
export interface SchemaViolation {
  instance_location: string;
  keyword_location: string;
  message: string;
}

/** `publishEvent`'s options. */
export interface PublishEventOptions {
  /** The idempotency key: a repeat within the hub's window gets the original's receipt, `duplicate: true`. */
  eventId?: string;
  /** Events with one key reach an ordered consumer in order. */
  partitionKey?: string;
  /** Carried to consumers, never interpreted. */
  correlationId?: string;
}

/** The `ack` of an `event_publish`: the event's receipt. */
export interface EventReceiptFrame {
  type: 'ack';
  id?: RequestId;
  sequence: number;
  event_id: string;
  timestamp: number;
  duplicate: boolean;
}

export interface DisconnectFrame {
  type: 'disconnect';
  code: number;
  /** v1.1: a ReasonCode; from a v1 hub, human text. */
  reason: ReasonCode;
  /** v1.1: the human text. */
  message?: string;
  reconnect: boolean;
}

/** A reply to a custom frame type, or any frame this client does not know. */
export interface OtherFrame {
  type: string;
  id?: RequestId;
  [field: string]: unknown;
}

/** One connection in a presence topic (docs/protocol.md, "Presence"). */
export interface PresenceMember<Meta = PresenceMeta> {
  /** null for an anonymous connection. */
  user: string | null;
  client: string;
  meta: Meta;
  /** ms since the Unix epoch; an update keeps it. */
  joined_at: number;
}

/** A member's meta: any JSON object; these fields are the ones the demo and React bindings use. */
export interface PresenceMeta {
  status?: PresenceStatus | (string & {});
  name?: string;
  colour?: string;
  [field: string]: unknown;
}

export type PresenceStatus = 'online' | 'away' | 'busy';

export interface PresenceStateFrame<Meta = PresenceMeta> {
  type: 'presence_state';
  id?: RequestId;
  topic: string;
  members: PresenceMember<Meta>[];
  /** Connections (in the whole list, also when `members` is a page of it). */
  count: number;
  /** Distinct users (in the whole list). */
  users: number;
  /** Members remain after these: pass it as `after` for the next page (opaque). */
  next?: string;
}

/** Paging of the list a join or sync asks for (docs/protocol.md, "Presence"). */
export interface PresenceListOptions {
  /** The state lists this many members (0…1000, the oldest) and the counts; none: the whole list. */
  limit?: number;
  /** The rest of the list comes in pages of this many (1…1000, default 1000). */
  pageSize?: number;
  /** false: only the first page (then diffs); the rest is not asked for. Default true. */
  walk?: boolean;
}

export interface PresenceDiffFrame<Meta = PresenceMeta> {
  type: 'presence_diff';
  topic: string;
  joins: PresenceMember<Meta>[];
  leaves: PresenceMember<Meta>[];
}

export interface PresenceStatsFrame {
  type: 'presence_stats';
  id?: RequestId;
  topic: string;
  clients: number;
  users: number;
}

/** A record of a sync collection (docs/sync.md). */
export interface SyncRecord<Data = any> {
  id: string;
  /** The version of the change that last wrote it; null for one inserted here and not yet acknowledged. */
  version: number | null;
  data: Data;
  /** ms since the Unix epoch (for a live change: when it arrived); null while pending. */
  updated_at: number | null;
  /** The user (or anonymous client id) that wrote it; null for the API key. */
  updated_by: string | null;
  /** Set on a record this client changed and the hub has not acknowledged yet. */
  pending?: true;
}

/** One change of a collection, as `sync_change` or an entry of `sync_changes`. */
export interface SyncChange<Data = any> {
  op: 'insert' | 'update' | 'delete';
  record_id: string;
  version: number;
  /** Not on delete. */
  data?: Data;
  mutation_id?: string;
  by?: string;
  /** In `sync_changes`: when it was made (ms). */
  at?: number;
}

/** A change as the collection's events report it: `local` when it is this client's own mutation. */
export interface SyncChangeInfo<Data = any> extends SyncChange<Data> {
  local: boolean;
}

/** The hub's `ack` of a sync mutation. */
export interface SyncAckFrame {
  type: 'ack';
  id?: RequestId;
  record_id: string;
  version: number;
  mutation_id: string;
}

/** A mutation rolled back: refused by the hub (a `conflict` carries its record), or dropped by close(). */
export interface SyncRollback<Data = any> {
  op: 'insert' | 'update' | 'delete';
  id: string;
  data: Data | undefined;
  mutationId: string;
  error: ChorusError;
  /** The record as the hub has it now (null: there is none). */
  current: SyncRecord<Data> | null;
}

export type CollectionStatus = 'idle' | 'loading' | 'live' | 'offline' | 'error';

export interface CollectionOptions {
  /** Most mutations pending at once; past it a mutation rejects with `queue_full` (default 1000). */
  maxPending?: number;
  /**
   * Where mutations made while offline go (chorus-pwa.js: `(m) => pwa.queueMutation(m, {token})`):
   * resolves to whether it stored the mutation; one it did not take waits in the page as usual.
   */
  outbox?: (mutation: OutboxMutation) => Promise<boolean> | boolean;
}

/** A mutation as `sync_mutate` has it, handed to a collection's outbox. */
export interface OutboxMutation {
  collection: string;
  op: 'insert' | 'update' | 'delete';
  record_id: string;
  data?: unknown;
  base_version?: number;
  mutation_id: string;
}

export interface MutationOptions {
  /**
   * The version the record must be at: default the version this client sees (a record someone
   * else changed meanwhile is a `conflict`); null for last write wins.
   */
  baseVersion?: number | null;
}

export type CollectionEvents<Data = any> = {
  insert: (record: SyncRecord<Data>, change: SyncChangeInfo<Data>) => void;
  update: (record: SyncRecord<Data>, previous: SyncRecord<Data>, change: SyncChangeInfo<Data>) => void;
  delete: (previous: SyncRecord<Data>, change: SyncChangeInfo<Data>) => void;
  snapshot: (records: SyncRecord<Data>[], version: number) => void;
  rollback: (rollback: SyncRollback<Data>) => void;
  /** After anything changed what list() returns. */
  sync: (records: SyncRecord<Data>[]) => void;
  status: (status: CollectionStatus, previous: CollectionStatus) => void;
  error: (error: Error) => void;
};

/**
 * A sync collection: the hub's records with this client's pending mutations applied; mutations
 * sent one at a time with their mutation ids, kept while offline and replayed once connected.
 */
export declare class Collection<Data = any> extends EventEmitter<CollectionEvents<Data>> {
  private constructor();
  readonly name: string;
  readonly status: CollectionStatus;
  /** The hub's version applied here (null before a snapshot). */
  readonly version: number | null;
  /** Mutations not yet acknowledged or refused. */
  readonly pending: number;
  readonly size: number;
  get(id: string): SyncRecord<Data> | undefined;
  list(): SyncRecord<Data>[];
  /** Resolves with the records once the snapshot (or, resuming, the changes) arrived. */
  subscribe(): Promise<SyncRecord<Data>[]>;
  unsubscribe(): Promise<AckFrame | null>;
  /** Inserts with `options.id`, or a random id made here. */
  insert(data: Data, options?: { id?: string }): Promise<SyncAckFrame>;
  update(id: string, data: Data, options?: MutationOptions): Promise<SyncAckFrame>;
  remove(id: string, options?: MutationOptions): Promise<SyncAckFrame>;
  /**
   * Settles a mutation this collection stored in its outbox, from the outbox's report
   * (chorus-pwa.js `mutated` or `mutationRejected`); false when it is not pending here.
   */
  outboxReport(report: { mutation: { collection: string; mutation_id: string }; ack?: { record_id: string; version: number }; error?: { code: string; message?: string }; current?: unknown }): boolean;
}

/** A `signal` relayed by the hub from another client. */
export interface SignalFrame<Data = any> {
  type: 'signal';
  from: { user: string | null; client: string };
  data: Data;
}

export type ServerFrame =
  | MessageFrame
  | PresenceStateFrame
  | PresenceDiffFrame
  | PresenceStatsFrame
  | SignalFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | AckFrame
  | PongFrame
  | ConnectedFrame
  | AuthSuccessFrame
  | ErrorFrame
  | DisconnectFrame
  | OtherFrame;

/** Any frame a client sends: `{type, ...fields}`; the client adds `id`. */
export interface ClientFrame {
  type: string;
  [field: string]: unknown;
}

/** Where a subscription resumes: a topic offset in an epoch, or a time for patterns. */
export type Since = { offset: number; epoch: string } | { ts: number };

// ---------------------------------------------------------------------------------------------
// Events

export type Listener = (...args: any[]) => void;
export type EventMap = Record<string, Listener>;

/** Listeners of message event names get the message's data and the whole message. */
export type MessageListener<Data = any> = (data: Data, message: MessageFrame<Data>) => void;

/** The listener type for `event`: from `Events`, else `Other` (never: unknown names are refused). */
export type ListenerFor<Events, Other, K extends string> = K extends keyof Events ? Events[K] : Other;

/** A small event emitter; a throwing listener is reported (`error` event or console) and the others still run. */
export declare class EventEmitter<Events extends EventMap = EventMap, Other extends Listener = never> {
  on<K extends string>(event: K, listener: ListenerFor<Events, Other, K>): this;
  once<K extends string>(event: K, listener: ListenerFor<Events, Other, K>): this;
  off<K extends string>(event: K, listener: ListenerFor<Events, Other, K>): this;
  emit<K extends string>(event: K, ...args: Parameters<ListenerFor<Events, Other, K>>): boolean;
  listenerCount(event: string): number;
}

export declare class ChorusError extends Error {
  constructor(code: ChorusErrorCode, message: string, frame?: ErrorFrame);
  readonly code: ChorusErrorCode;
  /** The error frame's `reason`, when it had one. */
  readonly reason?: ReasonCode;
  /** The hub's error frame, when the error came from one. */
  readonly frame?: ErrorFrame;
}

// ---------------------------------------------------------------------------------------------
// Helpers

export interface BackoffOptions {
  /** First ceiling, in ms (default 1000). */
  base?: number;
  /** Largest ceiling, in ms (default 30000). */
  cap?: number;
  /** A source of numbers in [0, 1) (default Math.random). */
  random?: () => number;
}

/** Full-jitter backoff: a random delay in [0, min(cap, base * 2^attempt)); attempt is 0-based. */
export declare function backoffDelay(attempt: number, options?: BackoffOptions): number;

/** Whether `topic` matches `pattern` (`*` one segment, a final `**` one or more). */
export declare function topicMatches(pattern: string, topic: string): boolean;

/** Whether a subscription name has a `*` or `**` segment. */
export declare function isPattern(name: string): boolean;

export type OfflineQueuePolicy = 'reject' | 'drop-oldest';

export interface OfflineQueueOptions {
  /** Most publishes held while offline (default 100; 0 holds none). */
  limit?: number;
  /** When full: 'reject' the new publish (default) or drop the oldest. */
  policy?: OfflineQueuePolicy;
}

export declare class OfflineQueue<Item = unknown> {
  constructor(options?: OfflineQueueOptions);
  readonly limit: number;
  readonly policy: OfflineQueuePolicy;
  readonly size: number;
  /** Queues `item`; when full returns the item turned away (the new one or the oldest). */
  push(item: Item): Item | undefined;
  /** Removes and returns every item, oldest first. */
  drain(): Item[];
}

// ---------------------------------------------------------------------------------------------
// The client

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'error';

/** What the client needs of a WebSocket: the browser's, or e.g. the `ws` package in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the hub selected ('' for none). */
  readonly protocol?: string;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ClientOptions {
  /** A token for `?token=` at connect. */
  token?: string;
  /**
   * Ask the hub for binary messages as binary frames (`?binary=1`), not base64 JSON (default
   * false). Either way their `data` is delivered as a Uint8Array.
   */
  binary?: boolean;
  /** Called for the first token (unless `token` is given) and whenever the hub says it expired. */
  getToken?: () => string | Promise<string>;
  /** The WebSocket implementation (default: globalThis.WebSocket). */
  WebSocket?: WebSocketConstructor;
  /** Connect from the constructor (default true). */
  autoConnect?: boolean;
  backoff?: BackoffOptions;
  /** Consecutive failed reconnection attempts before giving up in the `error` state (default Infinity). */
  maxReconnectAttempts?: number;
  /** Milliseconds between heartbeat pings (default 25000; 0 turns them off). */
  heartbeatInterval?: number;
  /** Milliseconds a request waits for its reply (default 10000). */
  requestTimeout?: number;
  offlineQueue?: OfflineQueueOptions;
  /**
   * In a browser: end the connection at once on the window's `offline` event, and reconnect at
   * once on `online` (default true).
   */
  watchNetwork?: boolean;
  /** getClient / useChorus: share one client per URL (default true). */
  shared?: boolean;
}

export interface PublishOptions {
  idempotencyKey?: string;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** The hub's `disconnect` frame before the close, if it sent one. */
  disconnect: DisconnectFrame | null;
}

export interface ClientStats {
  /** Frames sent. */
  messagesSent: number;
  /** Frames received. */
  messagesReceived: number;
  /** UTF-8 bytes of the frames sent. */
  bytesSent: number;
  /** UTF-8 bytes of the frames received. */
  bytesReceived: number;
  reconnections: number;
  /** Publishes waiting in the offline queue. */
  queued: number;
  /** Ping round trips in ms: the last, and the mean of the last ten (null before the first). */
  latency: { last: number | null; average: number | null };
}

export interface Session {
  client: string;
  user: string | null;
  expiresAt: number | null;
}

export type ClientEvents = {
  status: (previous: ConnectionState, current: ConnectionState) => void;
  open: () => void;
  close: (info: CloseInfo) => void;
  /** Every message frame. */
  message: (message: MessageFrame) => void;
  /** Messages relayed with topic "direct". */
  direct: (message: MessageFrame) => void;
  /** `signal` frames from other clients (PeerConnection handles those it sent). */
  signal: (frame: SignalFrame) => void;
  /** Every frame received. */
  frame: (frame: ServerFrame) => void;
  /** The hub accepted a token: the one the connection opened with (`connected`), or an `auth` frame's. */
  auth: (frame: AuthSuccessFrame | ConnectedFrame) => void;
  disconnect: (frame: DisconnectFrame) => void;
  /** A reconnection attempt was scheduled. */
  /** `url`: the hub URL the next attempt uses (the next of `urls`). */
  reconnect: (info: { attempt: number; delay: number; url: string }) => void;
  error: (error: Error) => void;
};

/** What the client does when a connection ends: reconnect, get a new token first, or stop. */
export declare function closePolicy(code: number, disconnect: DisconnectFrame | null | undefined): 'reconnect' | 'refresh' | 'stop';

export declare class ChorusClient extends EventEmitter<ClientEvents> {
  /** `url`: one hub URL, or a cluster's URLs, tried in turn after each failed or lost connection. */
  constructor(url: string | readonly string[], options?: ClientOptions);
  /** The hub URL in use. */
  readonly url: string;
  /** Every hub URL given, in the order they are tried. */
  readonly urls: string[];
  readonly state: ConnectionState;
  /** Whether close() was called (and connect() not since). */
  readonly closed: boolean;
  readonly stats: ClientStats;
  /** What the hub said in `connected` or `auth_success`. */
  readonly session: Session | null;
  connect(): this;
  close(): void;
  /** The channel for a topic or pattern; the same object for the same name (options count on the first call). */
  channel(name: string, options?: ChannelOptions): Channel;
  /** The sync collection `name` (a namespace with `sync: true`); the same object for the same name. */
  collection<Data = any>(name: string, options?: CollectionOptions): Collection<Data>;
  /** Publishes (queued while offline); resolves with the hub's ack. `BinaryData` goes as a binary message. */
  publish(topic: string, event: string | undefined, data: unknown | BinaryData, options?: PublishOptions): Promise<AckFrame>;
  /** Sends to every connection of `user`. */
  direct(user: string, event: string, data: unknown): Promise<AckFrame>;
  /** Publishes an event on the hub's event bus (`event_publish`); resolves with the receipt. */
  publishEvent(type: string, data: unknown, options?: PublishEventOptions): Promise<EventReceiptFrame>;
  /** Sends any frame; resolves with the reply carrying its id, rejects on an error frame. */
  send(frame: { type: 'ping'; timestamp?: unknown }, options?: { timeout?: number }): Promise<PongFrame>;
  send(frame: { type: 'subscribe'; topic: string; since?: Since }, options?: { timeout?: number }): Promise<SubscribedFrame>;
  send(frame: { type: 'signal'; to: string; data: unknown }, options?: { timeout?: number }): Promise<AckFrame>;
  send(frame: ClientFrame, options?: { timeout?: number }): Promise<ServerFrame>;
  /** Sends an `auth` frame; the token is also used for later reconnections. */
  authenticate(token: string): Promise<AuthSuccessFrame>;
  /** One round trip to the hub, in ms. */
  ping(options?: { timeout?: number }): Promise<number>;
  /**
   * A page of a topic's history from the HTTP API: by default the last `limit` (50) messages,
   * newest first; `before: page.nextBefore` continues with older ones; `order: 'asc'` with
   * `since` pages oldest first.
   */
  history<Data = any>(topic: string, options?: HistoryOptions): Promise<HistoryPage<Data>>;
}

export interface HistoryOptions {
  limit?: number;
  before?: number;
  since?: number;
  order?: 'asc' | 'desc';
}

export interface HistoryPage<Data = any> {
  messages: MessageFrame<Data>[];
  /** order 'desc': the `before` of the next, older page; null when nothing older is left. */
  nextBefore: number | null;
  /** order 'asc': the `since` of the next page. */
  nextSince: number | null;
  epoch: string | null;
  lastOffset: number;
}

// ---------------------------------------------------------------------------------------------
// Channels

export type ChannelState = 'unsubscribed' | 'subscribing' | 'subscribed';

export interface RecoveryFailure {
  topic: string;
  /** The `subscribed` reply that did not say `recovered: true`. */
  reply: SubscribedFrame;
}

/** Channel events besides message event names (which get a MessageListener). */
export type ChannelEvents = {
  /** Every message on the channel. */
  message: (message: MessageFrame) => void;
  subscribed: (frame: SubscribedFrame) => void;
  unsubscribed: (info: { topic: string }) => void;
  /** Messages may be missing after a reconnection: refetch the state. */
  recovery_failed: (failure: RecoveryFailure) => void;
  error: (error: Error) => void;
};

export interface ChannelOptions {
  /**
   * Decodes each message's data before the channel emits it, in arrival order: a function, or a
   * WebAssembly export run in a worker pool (chorus-wasm.js, loaded only when this is used).
   */
  decode?: ((data: any, message: MessageFrame) => unknown) | WasmDecodeOptions;
}

export declare class Channel extends EventEmitter<ChannelEvents, MessageListener> {
  private constructor();
  readonly name: string;
  readonly client: ChorusClient;
  readonly state: ChannelState;
  /** Who is in the topic (namespaces with `presence: true`). */
  readonly presence: Presence;
  /** The last offset and epoch seen for `topic` (default: the channel's name). */
  position(topic?: string): { offset: number; epoch: string } | undefined;
  subscribe(): Promise<SubscribedFrame>;
  unsubscribe(): Promise<void>;
  publish(event: string | undefined, data: unknown, options?: PublishOptions): Promise<AckFrame>;
}

// ---------------------------------------------------------------------------------------------
// Presence

/** The statuses offered by the demo and the React bindings. */
export declare const PRESENCE_STATUSES: readonly PresenceStatus[];

/** A user's connections in a topic (Presence#members). */
export interface PresenceUser<Meta = PresenceMeta> {
  /** null for an anonymous connection (its own user). */
  user: string | null;
  /** The user id, or the client id of an anonymous connection. */
  key: string;
  /** The user's newest connection's meta. */
  meta: Meta;
  joined_at: number;
  connections: PresenceMember<Meta>[];
}

export type PresenceEvents = {
  join: (member: PresenceMember) => void;
  leave: (member: PresenceMember) => void;
  update: (member: PresenceMember, previous: PresenceMember) => void;
  /** After each presence_state or presence_diff is applied: the users now present. */
  sync: (users: PresenceUser[]) => void;
  error: (error: Error) => void;
};

export declare class Presence extends EventEmitter<PresenceEvents> {
  private constructor();
  readonly topic: string;
  /** join() was called and leave() not since. */
  readonly joined: boolean;
  /** The meta joined with, merged with the updates since (null when not joined). */
  readonly meta: PresenceMeta | null;
  /** Connections in the topic (while pages load: the hub's count as of the latest page). */
  readonly count: number;
  /** Distinct users in the topic (while pages load: the hub's count as of the latest page). */
  readonly userCount: number;
  /** Whether the list holds every member (false while pages of it are still to come). */
  readonly complete: boolean;
  /** This connection's member entry, once listed. */
  readonly me: PresenceMember | null;
  /** Every connection, oldest first. */
  list(): PresenceMember[];
  /** The members grouped by user. */
  members(): PresenceUser[];
  /**
   * Joins (again after each reconnection, with the last meta); resolves with the state (with
   * `limit`: its first page; the rest follows in the background).
   */
  join(meta?: PresenceMeta, options?: PresenceListOptions): Promise<PresenceStateFrame>;
  /** Merges `patch` into the meta and sends it; null while disconnected (sent on the rejoin). */
  update(patch: PresenceMeta): Promise<AckFrame | null>;
  setStatus(status: PresenceStatus | (string & {})): Promise<AckFrame | null>;
  leave(): Promise<AckFrame | null>;
  /** Asks the hub for the whole list again (with `limit`: in pages; resolves with the first). */
  sync(options?: PresenceListOptions): Promise<PresenceStateFrame>;
  /** One page of the hub's list (`after`: a state's `next`), without changing this list. */
  page(options?: { limit?: number; after?: string }): Promise<PresenceStateFrame>;
  /** The hub's counts, without the list. */
  stats(): Promise<PresenceStatsFrame>;
}

/** Up to two initials of a name ("Ada Lovelace" → "AL"); "?" for none. */
export declare function initialsOf(name: string | null | undefined): string;
/** A stable colour for a user key (the same on every page). */
export declare function colourOf(key: string): string;
/** Members grouped by user, in order of each user's first connection. */
export declare function groupByUser<Meta = PresenceMeta>(members: Iterable<PresenceMember<Meta>>): PresenceUser<Meta>[];

// ---------------------------------------------------------------------------------------------
// WebRTC

/** The parts of RTCPeerConnection that PeerConnection uses (a test may pass a stand-in). */
export type RTCPeerConnectionConstructor = new (configuration?: RTCConfiguration) => RTCPeerConnection;

export interface PeerConnectionOptions {
  /** ICE servers etc.; none are needed between browsers that reach each other directly. */
  configuration?: RTCConfiguration;
  /** Overrides the role taken from the client ids. */
  polite?: boolean;
  RTCPeerConnection?: RTCPeerConnectionConstructor;
}

export interface PeerConnectionStats {
  dataChannels: number;
  /** Sent through send(). */
  messagesSent: number;
  messagesReceived: number;
  iceRestarts: number;
  /** Own offers rolled back for the other side's (glare, polite side). */
  rollbacks: number;
  /** The other side's offers ignored (glare, impolite side). */
  ignoredOffers: number;
}

export interface PeerTotals {
  /** PeerConnections made on the page. */
  created: number;
  /** Not closed yet. */
  active: number;
  dataChannels: number;
  messagesSent: number;
  messagesReceived: number;
  iceRestarts: number;
  rollbacks: number;
}

export type PeerConnectionEvents = {
  /** A data channel the other side opened. */
  datachannel: (channel: RTCDataChannel) => void;
  /** A data channel (either side's) is open. */
  open: (channel: RTCDataChannel) => void;
  message: (data: any, channel: RTCDataChannel) => void;
  track: (track: MediaStreamTrack, streams: readonly MediaStream[]) => void;
  state: (state: RTCPeerConnectionState) => void;
  close: () => void;
  error: (error: Error) => void;
};

export declare class PeerConnection extends EventEmitter<PeerConnectionEvents> {
  /** `remote`: the other side's client id (a presence member's `client`). */
  constructor(client: ChorusClient, remote: string, options?: PeerConnectionOptions);
  /** Calls `onPeer` with a new PeerConnection for each client that signals first; returns a function that stops. */
  static accept(
    client: ChorusClient,
    onPeer: (peer: PeerConnection, from: { user: string | null; client: string }) => void,
    options?: PeerConnectionOptions | ((from: { user: string | null; client: string }) => PeerConnectionOptions),
  ): () => void;
  /** Totals over the page's PeerConnections. */
  static readonly stats: PeerTotals;
  readonly remote: string;
  /** The side whose client id sorts after the other's. */
  readonly polite: boolean;
  readonly connection: RTCPeerConnection;
  readonly connectionState: RTCPeerConnectionState;
  readonly stats: PeerConnectionStats;
  createDataChannel(label: string, options?: RTCDataChannelInit): RTCDataChannel;
  /** Sends on the open data channel `label` (default: the first open one). */
  send(data: string | Blob | ArrayBuffer | ArrayBufferView, label?: string): void;
  addTrack(track: MediaStreamTrack, ...streams: MediaStream[]): RTCRtpSender;
  addStream(stream: MediaStream): RTCRtpSender[];
  restartIce(): void;
  /** Closes, and tells the other side. */
  close(): void;
}

/** The page's shared client for `url` (a new one with `shared: false`). */
export declare function getClient(url: string | readonly string[], options?: ClientOptions): ChorusClient;

// ---------------------------------------------------------------------------------------------
// Server-Sent Events

export interface EventSourceLike {
  readonly readyState: number;
  close(): void;
  addEventListener(type: string, listener: (event: any) => void): void;
  onopen: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}

export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

export interface SSEOptions {
  token?: string;
  getToken?: () => string | Promise<string>;
  /** The EventSource implementation (default: globalThis.EventSource). */
  EventSource?: EventSourceConstructor;
  withCredentials?: boolean;
  /** Open from the constructor (default true). */
  autoConnect?: boolean;
}

export type SSEState = 'connecting' | 'open' | 'closed';

/** Transport events besides message event names (which get a MessageListener). */
export type SSEEvents = {
  /** Messages whose event is `message` or has a listener. */
  message: (message: MessageFrame) => void;
  open: () => void;
  status: (previous: SSEState, current: SSEState) => void;
  disconnect: (frame: DisconnectFrame) => void;
  error: (error: Error) => void;
};

export declare class EventSourceTransport extends EventEmitter<SSEEvents, MessageListener> {
  constructor(url: string, topics: string | readonly string[], options?: SSEOptions);
  readonly state: SSEState;
  /** The id of the last event received. */
  readonly lastEventId: string | null;
  open(): Promise<void>;
  close(): void;
}

/** Listeners by event name: the transport's own events, or message event names. */
export type SSEHandlers = Partial<SSEEvents> & { [event: string]: Listener | undefined };

/** Receives `topics` over SSE; `handlers` maps event names to listeners. */
export declare function subscribeSSE(
  url: string,
  topics: string | readonly string[],
  handlers?: SSEHandlers,
  options?: SSEOptions,
): EventSourceTransport;
