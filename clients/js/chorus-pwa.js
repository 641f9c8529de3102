// Chorus PWA, the page side of chorus-sw.js: registers the worker, reports and applies new
// versions by an update strategy, relays online/offline, measures and clears the caches, and
// asks for background sync. One ES module; the browser objects it uses are injectable so that
// `node --test` can drive it (clients/js/test/pwa.test.mjs). See docs/pwa.md.
import { EventEmitter } from './chorus.js';

export const UPDATE_STRATEGIES = ['immediate', 'on-reload', 'manual'];

/**
 * Events: `registered` (registration), `updateAvailable` ({ worker, apply }), `updated` (the new
 * worker controls the page; the page reloads next unless `reloadOnUpdate` is false), `online`,
 * `offline`, `published` ({ publish, ack }) and `publishRejected` ({ publish, error }) for the
 * outbox's publishes, `mutated` ({ mutation, ack }) and `mutationRejected` ({ mutation, error,
 * current }: `error.code` 'conflict' when its base_version was stale) for its sync mutations,
 * `error`.
 */
export class ChorusPWA extends EventEmitter {
  #options;
  #registration = null;
  #registering = null;
  #applying = false;

  constructor(options = {}) {
    super();
    if (options.updateStrategy !== undefined && !UPDATE_STRATEGIES.includes(options.updateStrategy)) {
      throw new TypeError(`updateStrategy must be one of ${UPDATE_STRATEGIES.join(', ')}`);
    }
    this.#options = {
      scriptURL: '/chorus-sw.js',
      scope: undefined,
      updateStrategy: 'on-reload',
      reloadOnUpdate: true,
      navigator: globalThis.navigator,
      window: globalThis.window,
      caches: globalThis.caches,
      ...options,
    };
  }

  get supported() {
    return Boolean(this.#options.navigator?.serviceWorker);
  }

  get online() {
    return this.#options.navigator?.onLine ?? true;
  }

  get registration() {
    return this.#registration;
  }

  /** The worker waiting to take over, if a new version is installed. */
  get waiting() {
    return this.#registration?.waiting ?? null;
  }

  /** Registers the worker (resolves to null where service workers are unsupported). */
  register() {
    this.#registering ??= this.#register();
    return this.#registering;
  }

  async #register() {
    const { navigator, window, scriptURL, scope, updateStrategy } = this.#options;
    window?.addEventListener?.('online', () => this.emit('online'));
    window?.addEventListener?.('offline', () => this.emit('offline'));
    if (!this.supported) return null;
    const container = navigator.serviceWorker;
    container.addEventListener('message', (event) => {
      const { type, kind, publish, mutation, ack, error, current } = event.data ?? {};
      if (type !== 'OUTBOX_DELIVERED' && type !== 'OUTBOX_REJECTED') return;
      const delivered = type === 'OUTBOX_DELIVERED';
      if (kind === 'mutation') this.emit(delivered ? 'mutated' : 'mutationRejected', delivered ? { mutation, ack } : { mutation, error, current });
      else this.emit(delivered ? 'published' : 'publishRejected', delivered ? { publish, ack } : { publish, error });
    });
    container.addEventListener('controllerchange', () => {
      if (!this.#applying) return; // the first install taking control is not an update
      this.emit('updated');
      if (this.#options.reloadOnUpdate) window?.location?.reload();
    });
    const registration = await container.register(scriptURL, scope === undefined ? undefined : { scope });
    this.#registration = registration;
    this.emit('registered', registration);
    const track = (worker) => worker?.addEventListener('statechange', () => {
      if (worker.state === 'installed' && container.controller) this.#found(worker, false);
    });
    registration.addEventListener('updatefound', () => track(registration.installing));
    // Found during an earlier visit: on-reload applies it now, as the page starts.
    if (registration.waiting && container.controller) this.#found(registration.waiting, updateStrategy === 'on-reload');
    else track(registration.installing);   // found while this page was registering
    return registration;
  }

  /** Asks the server for a newer worker now (browsers also check on navigations). */
  async update() {
    await this.#registering?.catch(() => {});
    await this.#registration?.update();
  }

  /** Lets the waiting worker take over; the page reloads when it has (see `reloadOnUpdate`). */
  applyUpdate() {
    const waiting = this.waiting;
    if (!waiting) return false;
    this.#applying = true;
    waiting.postMessage({ type: 'SKIP_WAITING' });
    return true;
  }

  #found(worker, applyNow) {
    this.emit('updateAvailable', { worker, apply: () => this.applyUpdate() });
    if (applyNow || this.#options.updateStrategy === 'immediate') this.applyUpdate();
  }

  /** `{ usage, quota, caches: [{ name, entries, bytes }] }`; usage and quota from the StorageManager. */
  async storage() {
    const estimate = (await this.#options.navigator?.storage?.estimate?.()) ?? {};
    const caches = [];
    for (const name of await this.#options.caches.keys()) {
      const cache = await this.#options.caches.open(name);
      let bytes = 0;
      const requests = await cache.keys();
      for (const request of requests) {
        const response = await cache.match(request);
        if (response && response.type !== 'opaque') bytes += (await response.blob()).size;
      }
      caches.push({ name, entries: requests.length, bytes });
    }
    return { usage: estimate.usage ?? null, quota: estimate.quota ?? null, caches };
  }

  /** Deletes one cache; resolves to whether it existed. */
  clearCache(name) {
    return this.#options.caches.delete(name);
  }

  /** Deletes every cache of this origin; resolves to the names deleted. */
  async clearCaches() {
    const names = await this.#options.caches.keys();
    await Promise.all(names.map((name) => this.#options.caches.delete(name)));
    return names;
  }

  /** Whether a worker controls this page (so the outbox can be used). */
  get controlled() {
    return Boolean(this.#options.navigator?.serviceWorker?.controller);
  }

  /**
   * Stores a publish (`{topic, event?, data, idempotency_key}`, the body of POST /api/publish)
   * in the worker's outbox in IndexedDB. The worker sends it when Background Sync says the
   * browser is online, or when `flushOutbox()` asks; `published` follows. Resolves to false
   * when no worker controls the page. `token` is sent as `Authorization: Bearer` with it.
   */
  async queuePublish(publish, { token } = {}) {
    if (typeof publish?.idempotency_key !== 'string' || !publish.idempotency_key) {
      throw new TypeError('a queued publish needs an idempotency_key string');
    }
    return this.#queue({ type: 'QUEUE_PUBLISH', publish }, token);
  }

  /**
   * Stores a sync mutation (`{collection, op, record_id?, data?, base_version?, mutation_id}`,
   * as `sync_mutate` has it) in the same outbox, after the publishes and mutations queued
   * before it. The worker replays it through the HTTP sync API with its `mutation_id`, so it is
   * applied once however often it is sent; `mutated` follows, or `mutationRejected` (a stale
   * `base_version` is a `conflict` with the record as it stands in `current`). Resolves to
   * false when no worker controls the page; the worker refuses an incomplete mutation.
   */
  queueMutation(mutation, { token } = {}) {
    if (typeof mutation?.mutation_id !== 'string' || !mutation.mutation_id) {
      return Promise.reject(new TypeError('a queued mutation needs a mutation_id string'));
    }
    return this.#queue({ type: 'QUEUE_MUTATION', mutation }, token);
  }

  async #queue(message, token) {
    const answer = await this.#ask({ ...message, authorization: token ? `Bearer ${token}` : null });
    return Boolean(answer?.queued);
  }

  /** Sends what the outbox holds now: `{delivered, rejected, pending}` counts, or null without a worker. */
  flushOutbox() {
    return this.#ask({ type: 'FLUSH_OUTBOX' });
  }

  async #ask(message) {
    const worker = this.#options.navigator?.serviceWorker?.controller;
    if (!worker) return null;
    const channel = new MessageChannel();
    const answer = new Promise((resolve) => { channel.port1.onmessage = (event) => resolve(event.data); });
    worker.postMessage(message, [channel.port2]);
    const value = await answer;
    channel.port1.close();
    if (value?.error) throw new Error(value.error);
    return value;
  }

  /**
   * Subscribes this browser to Web Push with the hub's VAPID public key (base64url, as
   * `GET /api/push/key` gives it), asking for notification permission first, and registers the
   * subscription with the hub (`POST /api/push/subscriptions`). Resolves to the hub's record.
   * Options: `hub` (the hub's origin; default this page's), `token` (the user's client token),
   * `user` (with the API key or in development mode), `topics` (topics of `push: true`
   * namespaces to be notified of while offline).
   */
  async subscribePush(vapidPublicKey, { hub = '', token, user, topics } = {}) {
    const registration = await this.register();
    if (!registration?.pushManager) throw new Error('Web Push is not supported in this browser');
    const Notification = this.#options.window?.Notification ?? globalThis.Notification;
    if (Notification && Notification.permission !== 'granted' && await Notification.requestPermission() !== 'granted') {
      throw new Error('notifications are not allowed for this page');
    }
    const subscription = await registration.pushManager.getSubscription() ?? await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: base64URLToBytes(vapidPublicKey),
    });
    const { endpoint, keys } = subscription.toJSON();
    const response = await this.#fetch(`${hub}/api/push/subscriptions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ endpoint, keys, ...(user ? { user } : {}), ...(topics ? { topics } : {}) }),
    });
    if (!response.ok) throw new Error(`the hub refused the push subscription: ${await response.text()}`);
    return response.json();
  }

  /**
   * Removes this browser's push subscription from the hub (`DELETE
   * /api/push/subscriptions/{id}`, the id derived from the endpoint) and from the browser.
   * Resolves to false when there was none. Options: `hub`, `token`, as for subscribePush.
   */
  async unsubscribePush({ hub = '', token } = {}) {
    const registration = await this.register();
    const subscription = await registration?.pushManager?.getSubscription();
    if (!subscription) return false;
    const id = await pushSubscriptionID(subscription.endpoint);
    const response = await this.#fetch(`${hub}/api/push/subscriptions/${id}`, {
      method: 'DELETE',
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    if (!response.ok && response.status !== 404) throw new Error(`the hub refused to remove the push subscription: ${await response.text()}`);
    await subscription.unsubscribe();
    return true;
  }

  #fetch(url, init) {
    return (this.#options.fetch ?? globalThis.fetch)(url, init);
  }

  /** Registers a one-off Background Sync; resolves to false where the browser lacks it. */
  async requestBackgroundSync(tag) {
    const container = this.#options.navigator?.serviceWorker;
    if (!container) return false;
    const registration = await container.ready;
    if (!registration.sync) return false;
    await registration.sync.register(tag);
    return true;
  }
}

/** The bytes of unpadded base64url text (a VAPID key). */
export function base64URLToBytes(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/** The hub's id of a push subscription: the first 16 bytes of SHA-256(endpoint), base64url. */
export async function pushSubscriptionID(endpoint) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(endpoint)));
  return btoa(String.fromCharCode(...digest.slice(0, 16))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Registers the worker with these options and returns the ChorusPWA (its events are live). */
export function registerServiceWorker(options) {
  const pwa = new ChorusPWA(options);
  pwa.register().catch((error) => pwa.emit('error', error));
  return pwa;
}
