// Chorus service worker: precaching, five runtime caching strategies, expiration, an offline
// page for navigations and navigation preload, configured by one declarative object
// (docs/pwa.md). A classic script with no dependencies, so `importScripts` and
// `chorus pwa generate` (which prepends `self.chorusSWConfig = {…};`) can both use it.
//
// Every decision lives in functions that take their I/O (caches, fetch, clock) as arguments, so
// `node --test` checks them without a browser (clients/js/test/sw.test.mjs). The strategies
// follow Workbox's (workbox-strategies, workbox-expiration, workbox-precaching).

(function (scope) {
  'use strict';

  const STRATEGIES = ['cache-first', 'network-first', 'stale-while-revalidate', 'cache-only', 'network-only'];
  /** When a runtime entry was cached: expiration reads it back (opaque responses carry none). */
  const CACHED_AT = 'x-chorus-cached-at';
  /** The query parameter a precache key carries its revision in (Workbox's __WB_REVISION__). */
  const REVISION = '__chorus_revision';

  /** Fills in defaults and refuses what would only fail later, naming the offending field. */
  function normalizeConfig(config = {}) {
    const routes = (config.routes ?? []).map((route, index) => {
      if (!STRATEGIES.includes(route.strategy)) {
        throw new TypeError(`routes[${index}].strategy must be one of ${STRATEGIES.join(', ')}`);
      }
      if (route.path === undefined && route.pattern === undefined) {
        throw new TypeError(`routes[${index}] needs a path (glob) or a pattern (regular expression)`);
      }
      return {
        strategy: route.strategy,
        matcher: route.pattern !== undefined ? new RegExp(route.pattern) : globToRegExp(route.path),
        byPath: route.pattern === undefined,
        origin: route.origin ?? 'same',
        method: (route.method ?? 'GET').toUpperCase(),
        cache: route.cache ?? 'runtime',
        networkTimeoutSeconds: route.networkTimeoutSeconds ?? 0,
        maxEntries: route.expiration?.maxEntries ?? 0,
        maxAgeSeconds: route.expiration?.maxAgeSeconds ?? 0,
        purgeOnQuotaError: route.expiration?.purgeOnQuotaError ?? true,
        cacheOpaque: route.cacheOpaque ?? route.strategy !== 'cache-first',
      };
    });
    const precache = (config.precache ?? []).map((entry) =>
      typeof entry === 'string' ? { url: entry, revision: null } : { url: entry.url, revision: entry.revision ?? null });
    return {
      prefix: config.cachePrefix ?? 'chorus',
      version: String(config.version ?? '1'),
      precache,
      routes,
      offlinePage: config.offlinePage ?? null,
      navigationPreload: config.navigationPreload ?? true,
      backgroundSync: {
        tag: config.backgroundSync?.tag ?? 'chorus-publish',
        url: config.backgroundSync?.url ?? '/api/publish',
        collectionsURL: config.backgroundSync?.collectionsURL ?? '/api/collections/',
      },
      // Web Push: what a notification shows when the message does not say.
      push: {
        title: config.push?.title ?? 'Chorus',
        icon: config.push?.icon ?? null,
        url: config.push?.url ?? './',
      },
    };
  }

  /**
   * The notification a push message shows: the hub's payload (docs/pwa.md, "Web Push") is JSON
   * with title, body, url, icon, tag and data; anything else is shown as the body text. The URL
   * (resolved against the worker's scope) rides in the notification's data for the click.
   */
  function notificationFromPush(payload, push, base) {
    const message = payload !== null && typeof payload === 'object' && !Array.isArray(payload)
      ? payload
      : { body: payload === null || payload === undefined ? '' : String(payload) };
    const options = {
      body: typeof message.body === 'string' ? message.body : '',
      data: { url: new URL(typeof message.url === 'string' ? message.url : push.url, base).href, payload: message.data ?? null },
    };
    const icon = typeof message.icon === 'string' ? message.icon : push.icon;
    if (icon) options.icon = new URL(icon, base).href;
    // A tag replaces the earlier notification of the same topic instead of stacking them.
    if (typeof message.tag === 'string') { options.tag = message.tag; options.renotify = true; }
    return { title: typeof message.title === 'string' && message.title ? message.title : push.title, options };
  }

  /** A push event's data: parsed JSON when it is JSON, its text otherwise, null when empty. */
  function readPushData(data) {
    if (!data) return null;
    try { return data.json(); } catch { return data.text(); }
  }

  /** The open window to focus for a clicked notification's URL (same URL, fragment aside), or null. */
  function windowForURL(windows, href) {
    const strip = (url) => { const u = new URL(url); u.hash = ''; return u.href; };
    const target = strip(href);
    return windows.find((client) => client.url === href) ?? windows.find((client) => strip(client.url) === target) ?? null;
  }

  /** `*` matches within one path segment, `**` across segments; everything else literally. */
  function globToRegExp(glob) {
    let source = '';
    for (let i = 0; i < glob.length; i++) {
      if (glob[i] === '*' && glob[i + 1] === '*') { source += '.*'; i++; }
      else if (glob[i] === '*') source += '[^/]*';
      else source += glob[i].replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${source}$`);
  }

  function cacheNames(config) {
    const name = (kind) => `${config.prefix}-${kind}-v${config.version}`;
    const runtime = [...new Set(config.routes.map((route) => name(route.cache)))];
    return { precache: name('precache'), runtime: (cache) => name(cache), all: [name('precache'), ...runtime] };
  }

  /** The caches an activating worker deletes: ours (by prefix), but not of this version. */
  function staleCaches(existing, config) {
    const current = new Set(cacheNames(config).all);
    return existing.filter((name) => name.startsWith(`${config.prefix}-`) && !current.has(name));
  }

  /** The cache key of a precache entry: its URL, plus its revision when it has one. */
  function precacheKey(entry, base) {
    const url = new URL(entry.url, base);
    url.hash = '';
    if (entry.revision !== null) url.searchParams.set(REVISION, entry.revision);
    return url.href;
  }

  /** Precached URL (absolute, without fragment) → its cache key. */
  function precacheIndex(config, base) {
    const index = new Map();
    for (const entry of config.precache) {
      const url = new URL(entry.url, base);
      url.hash = '';
      index.set(url.href, precacheKey(entry, base));
    }
    return index;
  }

  /**
   * The precache key answering a request, if any. A navigation ignores the query string, as
   * pages read theirs in the browser (`/demo?name=Ann` is the precached `/demo`).
   */
  function precacheLookup(index, href, navigate) {
    const url = new URL(href);
    url.hash = '';
    if (index.has(url.href) || !navigate) return index.get(url.href);
    url.search = '';
    return index.get(url.href);
  }

  /** What installing needs: keys to fetch (those not cached yet); what activating deletes. */
  function precachePlan(config, base, cachedKeys) {
    const index = precacheIndex(config, base);
    const wanted = new Set(index.values());
    const cached = new Set(cachedKeys);
    return {
      fetch: [...index].filter(([, key]) => !cached.has(key)).map(([url, key]) => ({ url, key })),
      remove: [...cached].filter((key) => !wanted.has(key)),
    };
  }

  /** The first route for this request (`{url, method}`), or null: the browser handles it. */
  function matchRoute(config, request, workerOrigin) {
    const url = new URL(request.url);
    for (const route of config.routes) {
      if (route.method !== request.method.toUpperCase()) continue;
      if (route.origin === 'same' ? url.origin !== workerOrigin : route.origin !== '*' && route.origin !== url.origin) continue;
      if (route.matcher.test(route.byPath ? url.pathname : url.href)) return route;
    }
    return null;
  }

  function cacheable(response, route) {
    if (!response || route.strategy === 'network-only') return false;
    return response.status === 200 || (route.cacheOpaque && response.type === 'opaque');
  }

  function cachedAt(response) {
    const stamp = Number(response.headers.get(CACHED_AT));
    return Number.isFinite(stamp) && stamp > 0 ? stamp : null;
  }

  /** A cached response older than maxAgeSeconds counts as missing (Workbox checks on use too). */
  function isFresh(response, route, now) {
    if (!route.maxAgeSeconds) return true;
    const stamp = cachedAt(response);
    return stamp === null || now - stamp <= route.maxAgeSeconds * 1000;
  }

  /** Which entries (`{key, cachedAt}`) to delete: too old, then the oldest beyond maxEntries. */
  function expirationPlan(entries, route, now) {
    const tooOld = route.maxAgeSeconds
      ? entries.filter((entry) => entry.cachedAt !== null && now - entry.cachedAt > route.maxAgeSeconds * 1000)
      : [];
    const kept = entries.filter((entry) => !tooOld.includes(entry))
      .sort((a, b) => (b.cachedAt ?? 0) - (a.cachedAt ?? 0));
    const surplus = route.maxEntries ? kept.slice(route.maxEntries) : [];
    return [...tooOld, ...surplus].map((entry) => entry.key);
  }

  function isQuotaError(error) {
    return error?.name === 'QuotaExceededError' || error?.code === 22;
  }

  function stamp(response, now) {
    if (response.type === 'opaque') return response;
    const headers = new Headers(response.headers);
    headers.set(CACHED_AT, String(now));
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }

  /**
   * The I/O a strategy uses, injectable: `open(name)` → a Cache, `fetch(request)`, `now()`,
   * `waitUntil(promise)`, `timeout(ms)` → a promise resolved after ms, and `onQuotaError()`.
   */
  class Handler {
    constructor(route, names, io) {
      this.route = route;
      this.cacheName = names.runtime(route.cache);
      this.io = io;
    }

    async cached(request) {
      const cache = await this.io.open(this.cacheName);
      const response = await cache.match(request);
      return response && isFresh(response, this.route, this.io.now()) ? response : undefined;
    }

    async put(request, response) {
      if (!cacheable(response, this.route)) return;
      const cache = await this.io.open(this.cacheName);
      try {
        await cache.put(request, stamp(response, this.io.now()));
      } catch (error) {
        if (!isQuotaError(error)) throw error;
        await this.io.onQuotaError();
        return;
      }
      await this.expire(cache);
    }

    async expire(cache) {
      if (!this.route.maxEntries && !this.route.maxAgeSeconds) return;
      const entries = [];
      for (const request of await cache.keys()) {
        const response = await cache.match(request);
        entries.push({ key: request, cachedAt: response ? cachedAt(response) : null });
      }
      for (const key of expirationPlan(entries, this.route, this.io.now())) await cache.delete(key);
    }

    /** The network's response (or the navigation preload's), cached when cacheable. */
    async fetchAndCache(request, preload) {
      const response = (await preload) ?? await this.io.fetch(request);
      const stored = cacheable(response, this.route) ? this.put(request, response.clone()) : null;
      if (stored) this.io.waitUntil(stored.catch(() => {}));
      return response;
    }

    /**
     * The network's response, or `{ timedOut }` after networkTimeoutSeconds: then `network` is
     * the still pending fetch, for a caller with nothing better to wait on.
     */
    async fetchWithTimeout(request, preload) {
      const network = this.fetchAndCache(request, preload);
      const seconds = this.route.networkTimeoutSeconds;
      if (!seconds) return { response: await network };
      const timedOut = Symbol('timeout');
      const first = await Promise.race([network, this.io.timeout(seconds * 1000).then(() => timedOut)]);
      if (first !== timedOut) return { response: first };
      network.catch(() => {});
      return { timedOut: true, network };
    }
  }

  // ---- the outbox: publishes and sync mutations made offline, replayed once the hub answers --

  const MUTATION_OPS = ['insert', 'update', 'delete'];

  /**
   * The stored form of a publish (`{topic, event?, data, idempotency_key}`, the body of POST
   * /api/publish) or of a sync mutation (`{collection, op, record_id?, data?, base_version?,
   * mutation_id}`, as `sync_mutate` has it). `key` makes an entry unique: the same publish or
   * mutation queued twice is stored once. Throws a TypeError naming what is missing.
   */
  function outboxEntry(kind, value, authorization = null, now = Date.now()) {
    if (kind === 'publish') {
      if (typeof value?.idempotency_key !== 'string' || !value.idempotency_key) throw new TypeError('a queued publish needs an idempotency_key string');
      return { kind, key: `publish ${value.idempotency_key}`, publish: value, authorization, queuedAt: now };
    }
    if (kind === 'mutation') {
      if (typeof value?.collection !== 'string' || !value.collection) throw new TypeError('a queued mutation needs a collection');
      if (!MUTATION_OPS.includes(value.op)) throw new TypeError(`a queued mutation's op is one of ${MUTATION_OPS.join(', ')}`);
      if (typeof value.mutation_id !== 'string' || !value.mutation_id) throw new TypeError('a queued mutation needs a mutation_id string');
      if (value.op !== 'insert' && (typeof value.record_id !== 'string' || !value.record_id)) throw new TypeError(`a queued ${value.op} needs a record_id`);
      if (value.op !== 'delete' && value.data === undefined) throw new TypeError(`a queued ${value.op} needs data`);
      if (value.base_version != null && !Number.isInteger(value.base_version)) throw new TypeError('base_version is a record version (an integer)');
      return { kind, key: `mutation ${value.collection} ${value.mutation_id}`, mutation: value, authorization, queuedAt: now };
    }
    throw new TypeError(`unknown outbox entry kind ${kind}`);
  }

  /**
   * The HTTP request that replays `entry` (docs/pwa.md, "Background sync"): a publish is POSTed
   * to `urls.publish`; a mutation goes to the collection's records (`urls.collections`) as the
   * HTTP sync API has it, carrying its `mutation_id` (a replay of an applied one is answered
   * without being applied again) and its `base_version` as `If-Match`.
   */
  function outboxRequest(entry, urls) {
    const headers = entry.authorization ? { Authorization: entry.authorization } : {};
    if (entry.kind !== 'mutation') {
      return { url: urls.publish, init: { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(entry.publish) } };
    }
    const m = entry.mutation;
    const records = `${urls.collections}${encodeURIComponent(m.collection)}/records`;
    if (m.base_version != null) headers['If-Match'] = `"${m.base_version}"`;
    if (m.op === 'delete') {
      return { url: `${records}/${encodeURIComponent(m.record_id)}`, init: { method: 'DELETE', headers: { ...headers, 'Idempotency-Key': m.mutation_id } } };
    }
    const json = { ...headers, 'Content-Type': 'application/json' };
    if (m.op === 'insert') {
      const body = { data: m.data, mutation_id: m.mutation_id, ...(m.record_id ? { id: m.record_id } : {}) };
      return { url: records, init: { method: 'POST', headers: json, body: JSON.stringify(body) } };
    }
    return {
      url: `${records}/${encodeURIComponent(m.record_id)}`,
      init: { method: 'PUT', headers: json, body: JSON.stringify({ data: m.data, mutation_id: m.mutation_id }) },
    };
  }

  /**
   * What the hub's answer means for a stored entry: `delivered` (drop it, tell the pages),
   * `rejected` (the hub will never take it, a mutation's conflict included: drop it, tell the
   * pages), or `retry` (keep it; stop this flush, so that order is kept).
   */
  function outboxOutcome(status) {
    if (status >= 200 && status < 300) return 'delivered';
    if (status === 408 || status === 429 || status >= 500 || status === 0) return 'retry';
    return 'rejected';
  }

  /**
   * Sends stored entries in order through `post(entry)` → Response, removing each settled one.
   * Resolves to `{ delivered: [{entry, ack}], rejected: [{entry, error, current}], pending }`
   * (`current`: the record a conflicting mutation met); a network failure or a `retry` answer
   * stops the flush with the rest still stored.
   */
  async function flushOutbox(outbox, post) {
    const result = { delivered: [], rejected: [], pending: 0 };
    const entries = await outbox.all();
    for (const [index, entry] of entries.entries()) {
      let response;
      try {
        response = await post(entry);
      } catch {
        result.pending = entries.length - index;
        break;
      }
      const outcome = outboxOutcome(response.status);
      if (outcome === 'retry') { result.pending = entries.length - index; break; }
      const body = await response.json().catch(() => null);
      await outbox.remove(entry.key);
      if (outcome === 'delivered') result.delivered.push({ entry, ack: body });
      else result.rejected.push({ entry, error: body?.error ?? { code: String(response.status) }, current: body?.current ?? null });
    }
    return result;
  }

  /**
   * The message a page gets about a settled entry: `OUTBOX_DELIVERED` {kind, publish |
   * mutation, ack} or `OUTBOX_REJECTED` {kind, publish | mutation, error, current}.
   */
  function outboxReport(type, { entry, ack, error, current }) {
    const value = entry.kind === 'mutation' ? { mutation: entry.mutation } : { publish: entry.publish };
    return type === 'delivered'
      ? { type: 'OUTBOX_DELIVERED', kind: entry.kind ?? 'publish', ...value, ack }
      : { type: 'OUTBOX_REJECTED', kind: entry.kind ?? 'publish', ...value, error, ...(entry.kind === 'mutation' ? { current } : {}) };
  }

  /**
   * The outbox in IndexedDB: one object store of entries, unique by `key`, read in insertion
   * order. Version 1 held publishes alone (keyed by their idempotency_key); upgrading gives
   * them their `kind` and `key`.
   */
  function indexedDBOutbox(name) {
    const open = () => new Promise((resolve, reject) => {
      const request = indexedDB.open(name, 2);
      request.onupgradeneeded = (event) => {
        const store = event.oldVersion < 1
          ? request.result.createObjectStore('publishes', { keyPath: 'seq', autoIncrement: true })
          : request.transaction.objectStore('publishes');
        if (store.indexNames.contains('key')) store.deleteIndex('key');
        store.openCursor().onsuccess = (cursor) => {
          const at = cursor.target.result;
          if (!at) return;
          // Its `seq` stays: an update must keep the primary key.
          if (!at.value.key) at.update({ ...at.value, ...outboxEntry('publish', at.value.publish, at.value.authorization, at.value.queuedAt) });
          at.continue();
        };
        store.createIndex('key', 'key', { unique: true });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const run = async (mode, work) => {
      const db = await open();
      try {
        return await new Promise((resolve, reject) => {
          const transaction = db.transaction('publishes', mode);
          const value = work(transaction.objectStore('publishes'));
          transaction.oncomplete = () => resolve(value.result);
          // A failed request (a duplicate key: ConstraintError) bubbles here before the
          // transaction's own error is set: the request's error says what it was.
          transaction.onerror = (event) => reject(event.target?.error ?? transaction.error);
          transaction.onabort = () => reject(transaction.error);
        });
      } finally {
        db.close();
      }
    };
    return {
      add: (entry) => run('readwrite', (store) => store.add(entry)),
      all: () => run('readonly', (store) => store.getAll()),
      remove: (key) => run('readwrite', (store) => {
        const index = store.index('key');
        const cursor = index.openKeyCursor(key);
        cursor.onsuccess = () => { if (cursor.result) store.delete(cursor.result.primaryKey); };
        return cursor;
      }),
    };
  }

  /** Answers `request` by `route.strategy`; rejects when it has no response (Workbox: no-response). */
  async function respond(route, names, io, request, preload) {
    const handler = new Handler(route, names, io);
    switch (route.strategy) {
      case 'cache-first':
        return (await handler.cached(request)) ?? handler.fetchAndCache(request, preload);
      case 'network-first': {
        let attempt;
        try {
          attempt = await handler.fetchWithTimeout(request, preload);
        } catch (error) {
          const cached = await handler.cached(request);
          if (!cached) throw error;
          return cached;
        }
        if (!attempt.timedOut) return attempt.response;
        return (await handler.cached(request)) ?? attempt.network;
      }
      case 'stale-while-revalidate': {
        const cached = await handler.cached(request);
        const network = handler.fetchAndCache(request, preload);
        if (!cached) return network;
        io.waitUntil(network.catch(() => {}));
        return cached;
      }
      case 'cache-only': {
        const cached = await handler.cached(request);
        if (!cached) throw new Error(`no-response: ${request.url} is not in ${handler.cacheName}`);
        return cached;
      }
      case 'network-only': {
        const attempt = await handler.fetchWithTimeout(request, preload);
        if (attempt.timedOut) throw new Error(`no-response: ${request.url} timed out`);
        return attempt.response;
      }
    }
    throw new TypeError(`unknown strategy ${route.strategy}`);
  }

  /** Wires the config to a ServiceWorkerGlobalScope's install, activate, fetch and message events. */
  function start(sw, rawConfig) {
    const config = normalizeConfig(rawConfig);
    const names = cacheNames(config);
    const base = sw.location.href;
    const index = precacheIndex(config, base);
    const offlineKey = config.offlinePage ? index.get(new URL(config.offlinePage, base).href) : null;
    if (config.offlinePage && !offlineKey) throw new TypeError('offlinePage must be in the precache list');

    const purgeOnQuota = async () => {
      for (const route of config.routes) if (route.purgeOnQuotaError) await caches.delete(names.runtime(route.cache));
    };

    sw.addEventListener('install', (event) => {
      event.waitUntil((async () => {
        const cache = await caches.open(names.precache);
        const plan = precachePlan(config, base, (await cache.keys()).map((request) => request.url));
        await Promise.all(plan.fetch.map(async ({ url, key }) => {
          const response = await fetch(url, { cache: 'reload', credentials: 'same-origin' });
          if (!response.ok) throw new Error(`precaching ${url} failed: HTTP ${response.status}`);
          // A redirected response cannot answer a navigation: keep its body and headers only.
          const body = response.redirected ? new Response(await response.blob(), { headers: response.headers }) : response;
          await cache.put(key, body);
        }));
      })());
    });

    sw.addEventListener('activate', (event) => {
      event.waitUntil((async () => {
        for (const name of staleCaches(await caches.keys(), config)) await caches.delete(name);
        const cache = await caches.open(names.precache);
        const plan = precachePlan(config, base, (await cache.keys()).map((request) => request.url));
        for (const key of plan.remove) await cache.delete(key);
        if (config.navigationPreload && sw.registration.navigationPreload) await sw.registration.navigationPreload.enable();
      })());
    });

    // One flush at a time: a sync event and a page's request must not send the same entry twice.
    const outbox = indexedDBOutbox(`${config.prefix}-outbox`);
    const urls = {
      publish: new URL(config.backgroundSync.url, base).href,
      collections: new URL(config.backgroundSync.collectionsURL, base).href,
    };
    let flushing = Promise.resolve();
    const flush = () => {
      flushing = flushing.catch(() => {}).then(async () => {
        const result = await flushOutbox(outbox, (entry) => {
          const { url, init } = outboxRequest(entry, urls);
          return fetch(url, init);
        });
        const pages = await sw.clients.matchAll({ includeUncontrolled: true });
        const reports = [
          ...result.delivered.map((settled) => outboxReport('delivered', settled)),
          ...result.rejected.map((settled) => outboxReport('rejected', settled)),
        ];
        for (const report of reports) for (const page of pages) page.postMessage(report);
        return result;
      });
      return flushing;
    };
    const reply = (event, work) => {
      const answer = (value) => event.ports[0]?.postMessage(value);
      event.waitUntil(work().then(answer, (error) => answer({ error: String(error?.message ?? error) })));
    };

    sw.addEventListener('message', (event) => {
      const type = event.data?.type;
      if (type === 'SKIP_WAITING') sw.skipWaiting();
      if (type === 'QUEUE_PUBLISH' || type === 'QUEUE_MUTATION') {
        reply(event, async () => {
          const entry = type === 'QUEUE_PUBLISH'
            ? outboxEntry('publish', event.data.publish, event.data.authorization ?? null)
            : outboxEntry('mutation', event.data.mutation, event.data.authorization ?? null);
          // The same key twice is the same publish or mutation: stored once.
          const duplicate = await outbox.add(entry).then(() => false, (error) => {
            if (error?.name === 'ConstraintError') return true;
            throw error;
          });
          if (duplicate) return { queued: true, duplicate };
          // Where Background Sync exists, the browser wakes this worker when it is online.
          await sw.registration.sync?.register(config.backgroundSync.tag).catch(() => {});
          return { queued: true };
        });
      }
      if (type === 'FLUSH_OUTBOX') {
        reply(event, async () => {
          const result = await flush();
          return { delivered: result.delivered.length, rejected: result.rejected.length, pending: result.pending };
        });
      }
    });

    sw.addEventListener('sync', (event) => {
      if (event.tag !== config.backgroundSync.tag) return;
      // Rejecting makes the browser retry the sync later.
      event.waitUntil(flush().then((result) => {
        if (result.pending) throw new Error(`${result.pending} outbox entries still waiting for the hub`);
      }));
    });

    sw.addEventListener('push', (event) => {
      const { title, options } = notificationFromPush(readPushData(event.data), config.push, base);
      event.waitUntil(sw.registration.showNotification(title, options));
    });

    sw.addEventListener('notificationclick', (event) => {
      event.notification.close();
      const url = event.notification.data?.url ?? new URL(config.push.url, base).href;
      event.waitUntil((async () => {
        const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
        const open = windowForURL(windows, url);
        if (open) {
          // Same page, other fragment: take it there.
          if (open.url !== url && 'navigate' in open) await open.navigate(url).catch(() => {});
          return open.focus();
        }
        return sw.clients.openWindow(url);
      })());
    });

    sw.addEventListener('fetch', (event) => {
      const request = event.request;
      if (request.method !== 'GET' && request.method !== 'HEAD' && !config.routes.some((r) => r.method === request.method)) return;
      const navigate = request.mode === 'navigate';
      const precached = precacheLookup(index, request.url, navigate);
      const route = precached ? null : matchRoute(config, request, sw.location.origin);
      if (!precached && !route && !(navigate && offlineKey)) return;

      const preload = navigate && config.navigationPreload ? event.preloadResponse : undefined;
      if (preload) event.waitUntil(preload.catch(() => {}));
      const io = {
        open: (name) => caches.open(name),
        fetch: (r) => fetch(r),
        now: () => Date.now(),
        waitUntil: (promise) => event.waitUntil(promise),
        timeout: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        onQuotaError: purgeOnQuota,
      };
      event.respondWith((async () => {
        try {
          if (precached) {
            return (await (await caches.open(names.precache)).match(precached)) ?? await ((await preload) ?? fetch(request));
          }
          if (route) return await respond(route, names, io, request, preload);
          return (await preload) ?? await fetch(request);
        } catch (error) {
          const offline = navigate && offlineKey ? await (await caches.open(names.precache)).match(offlineKey) : undefined;
          if (offline) return offline;
          throw error;
        }
      })());
    });
  }

  const api = {
    STRATEGIES, normalizeConfig, globToRegExp, cacheNames, staleCaches, precacheKey, precacheIndex,
    precacheLookup, precachePlan, matchRoute, cacheable, isFresh, expirationPlan, isQuotaError, respond,
    outboxEntry, outboxRequest, outboxOutcome, flushOutbox, outboxReport, notificationFromPush, readPushData, windowForURL, start,
  };
  scope.ChorusSW = api;
  if (typeof ServiceWorkerGlobalScope !== 'undefined' && scope instanceof ServiceWorkerGlobalScope) {
    start(scope, scope.chorusSWConfig ?? {});
  }
})(typeof self !== 'undefined' ? self : globalThis);
