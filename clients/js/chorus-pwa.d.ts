import { EventEmitter } from './chorus.js';

export type UpdateStrategy = 'immediate' | 'on-reload' | 'manual';
export declare const UPDATE_STRATEGIES: readonly UpdateStrategy[];

export interface ChorusPWAOptions {
  /** The worker script; default `/chorus-sw.js` (the hub's). */
  scriptURL?: string;
  scope?: string;
  /** Default `on-reload`. */
  updateStrategy?: UpdateStrategy;
  /** Reload the page when an applied update takes control (default true). */
  reloadOnUpdate?: boolean;
  /** Injectable for tests; default the globals. */
  navigator?: Navigator;
  window?: Pick<Window, 'addEventListener' | 'location'>;
  caches?: CacheStorage;
  /** Injectable for tests; default the global fetch (push subscription calls to the hub). */
  fetch?: typeof fetch;
}

/** Where and as whom a push subscription is registered with the hub. */
export interface PushRegistrationOptions {
  /** The hub's origin; default this page's. */
  hub?: string;
  /** The user's client token. */
  token?: string;
  /** The user, with the API key or in development mode. */
  user?: string;
  /** Topics of `push: true` namespaces to be notified of while offline. */
  topics?: string[];
}

/** The hub's record of a push subscription (POST /api/push/subscriptions). */
export interface HubPushSubscription {
  id: string;
  user: string;
  endpoint: string;
  topics: string[];
  created_at: number;
}

export interface AvailableUpdate {
  worker: ServiceWorker;
  /** Lets the waiting worker take over (what `manual` apps call). */
  apply(): boolean;
}

export interface CacheUsage {
  name: string;
  entries: number;
  bytes: number;
}

export interface StorageReport {
  usage: number | null;
  quota: number | null;
  caches: CacheUsage[];
}

/** The body of POST /api/publish, as the outbox stores and replays it. */
export interface QueuedPublish {
  topic: string;
  event?: string;
  data: unknown;
  idempotency_key: string;
}

/** A sync mutation, as `sync_mutate` has it, stored in the outbox and replayed over HTTP. */
export interface QueuedMutation {
  collection: string;
  op: 'insert' | 'update' | 'delete';
  /** Required for update and delete; an insert without one gets an id from the hub. */
  record_id?: string;
  /** Required for insert and update. */
  data?: unknown;
  /** The version the record must be at (sent as If-Match); absent or null: last write wins. */
  base_version?: number | null;
  /** The client's id: a replay of an applied mutation is answered without applying it again. */
  mutation_id: string;
}

/** A record of a sync collection, as the hub answers it. */
export interface OutboxRecord {
  id: string;
  version: number;
  data: unknown;
  updated_at: number;
  updated_by: string | null;
}

export interface OutboxFlush {
  delivered: number;
  rejected: number;
  pending: number;
}

export type PWAEvents = {
  registered: (registration: ServiceWorkerRegistration) => void;
  updateAvailable: (update: AvailableUpdate) => void;
  updated: () => void;
  online: () => void;
  offline: () => void;
  published: (report: { publish: QueuedPublish; ack: { message_id: string; offset?: number; epoch?: string } }) => void;
  publishRejected: (report: { publish: QueuedPublish; error: { code: string; message?: string } }) => void;
  mutated: (report: { mutation: QueuedMutation; ack: { record_id: string; version: number; mutation_id: string; record: OutboxRecord | null } }) => void;
  /** `error.code` is 'conflict' when `base_version` was stale; `current` is the record then (null: deleted). */
  mutationRejected: (report: { mutation: QueuedMutation; error: { code: string; message?: string }; current: OutboxRecord | null }) => void;
  error: (error: unknown) => void;
};

export declare class ChorusPWA extends EventEmitter<PWAEvents> {
  constructor(options?: ChorusPWAOptions);
  readonly supported: boolean;
  readonly online: boolean;
  readonly registration: ServiceWorkerRegistration | null;
  /** The installed new version waiting to take over, if any. */
  readonly waiting: ServiceWorker | null;
  register(): Promise<ServiceWorkerRegistration | null>;
  update(): Promise<void>;
  applyUpdate(): boolean;
  storage(): Promise<StorageReport>;
  clearCache(name: string): Promise<boolean>;
  clearCaches(): Promise<string[]>;
  requestBackgroundSync(tag: string): Promise<boolean>;
  /** Whether a worker controls the page (the outbox needs one). */
  readonly controlled: boolean;
  queuePublish(publish: QueuedPublish, options?: { token?: string }): Promise<boolean>;
  queueMutation(mutation: QueuedMutation, options?: { token?: string }): Promise<boolean>;
  flushOutbox(): Promise<OutboxFlush | null>;
  /** Subscribes to Web Push with the hub's VAPID public key and registers it with the hub. */
  subscribePush(vapidPublicKey: string, options?: PushRegistrationOptions): Promise<HubPushSubscription>;
  /** Removes the subscription from the hub and the browser; false when there was none. */
  unsubscribePush(options?: Pick<PushRegistrationOptions, 'hub' | 'token'>): Promise<boolean>;
}

export declare function base64URLToBytes(text: string): Uint8Array;
export declare function pushSubscriptionID(endpoint: string): Promise<string>;

export declare function registerServiceWorker(options?: ChorusPWAOptions): ChorusPWA;
