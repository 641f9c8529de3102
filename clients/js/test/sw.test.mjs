// The service worker's decisions (clients/js/chorus-sw.js) without a browser: the script is run
// in this realm, and each strategy gets an in-memory cache, a scripted network and a clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runInThisContext } from 'node:vm';

runInThisContext(readFileSync(new URL('../chorus-sw.js', import.meta.url), 'utf8'));
const SW = globalThis.ChorusSW;
const ORIGIN = 'https://app.example';

/** A Cache's subset the worker uses, keyed by URL, in insertion order like the real one. */
class MemoryCache {
  constructor() { this.entries = new Map(); this.failPut = null; }
  key(request) { return typeof request === 'string' ? request : request.url; }
  async match(request) { return this.entries.get(this.key(request))?.clone(); }
  async put(request, response) {
    if (this.failPut) throw this.failPut;
    this.entries.set(this.key(request), response);
  }
  async keys() { return [...this.entries.keys()].map((url) => new Request(url)); }
  async delete(request) { return this.entries.delete(this.key(request)); }
}

/** The injected I/O: `network` answers each fetch (a Response, an Error to throw, or a pending promise). */
function world({ network = () => new Response('net'), now = 1_000_000 } = {}) {
  const caches = new Map();
  const pending = [];
  const timers = [];
  const io = {
    fetches: 0,
    quotaErrors: 0,
    open: async (name) => { if (!caches.has(name)) caches.set(name, new MemoryCache()); return caches.get(name); },
    fetch: async (request) => {
      io.fetches++;
      const answer = await network(request);
      if (answer instanceof Error) throw answer;
      return answer;
    },
    now: () => io.clock,
    clock: now,
    waitUntil: (promise) => pending.push(promise),
    timeout: () => new Promise((resolve) => timers.push(resolve)),
    onQuotaError: async () => { io.quotaErrors++; },
    settled: () => Promise.all(pending),
    fireTimers: () => timers.splice(0).forEach((resolve) => resolve()),
    caches,
  };
  return io;
}

function route(fields) {
  const config = SW.normalizeConfig({ routes: [{ path: '/**', cache: 'c', ...fields }] });
  return { route: config.routes[0], names: SW.cacheNames(config) };
}

const request = (path = '/a') => new Request(ORIGIN + path);
const text = (response) => response.text();

async function seed(io, names, path, body, cachedAt = io.clock) {
  const cache = await io.open(names.runtime('c'));
  await cache.put(request(path), new Response(body, { headers: { 'x-chorus-cached-at': String(cachedAt) } }));
}

test('config: strategies and paths are checked, defaults filled, globs match segments', () => {
  assert.throws(() => SW.normalizeConfig({ routes: [{ path: '/x', strategy: 'cache-last' }] }), /routes\[0\]\.strategy/);
  assert.throws(() => SW.normalizeConfig({ routes: [{ strategy: 'cache-first' }] }), /routes\[0\] needs a path/);
  const config = SW.normalizeConfig({ precache: ['/a', { url: '/b', revision: '2' }] });
  assert.equal(config.prefix, 'chorus');
  assert.equal(config.version, '1');
  assert.deepEqual(config.precache, [{ url: '/a', revision: null }, { url: '/b', revision: '2' }]);
  const glob = SW.globToRegExp('/api/topics/*/history');
  assert.ok(glob.test('/api/topics/chat%3Ageneral/history'));
  assert.ok(!glob.test('/api/topics/a/b/history'));
  assert.ok(SW.globToRegExp('/js/**').test('/js/a/b.js'));
  assert.ok(!SW.globToRegExp('/a.js').test('/aXjs'), 'a dot is literal');
});

test('routes: first match wins, by method, origin and path or pattern', () => {
  const config = SW.normalizeConfig({
    routes: [
      { path: '/api/**', strategy: 'network-only', method: 'POST' },
      { path: '/api/**', strategy: 'network-first' },
      { pattern: '^https://cdn\\.example/.*\\.css$', origin: '*', strategy: 'cache-first' },
      { path: '/**', strategy: 'stale-while-revalidate', origin: 'https://fonts.example' },
    ],
  });
  const match = (url, method = 'GET') => SW.matchRoute(config, { url, method }, ORIGIN)?.strategy ?? null;
  assert.equal(match(`${ORIGIN}/api/publish`, 'POST'), 'network-only');
  assert.equal(match(`${ORIGIN}/api/topics/x/history?since=1`), 'network-first');
  assert.equal(match('https://other.example/api/x'), null, 'same origin by default');
  assert.equal(match('https://cdn.example/site.css'), 'cache-first');
  assert.equal(match('https://fonts.example/f.woff2'), 'stale-while-revalidate');
  assert.equal(match(`${ORIGIN}/demo`), null);
});

test('cache names carry prefix and version; activation deletes only our other versions', () => {
  const config = SW.normalizeConfig({ cachePrefix: 'app', version: 3, routes: [{ path: '/x', strategy: 'cache-first', cache: 'assets' }] });
  const names = SW.cacheNames(config);
  assert.equal(names.precache, 'app-precache-v3');
  assert.deepEqual(names.all, ['app-precache-v3', 'app-assets-v3']);
  assert.deepEqual(SW.staleCaches(['app-precache-v2', 'app-assets-v3', 'app-assets-v2', 'other-v1'], config),
    ['app-precache-v2', 'app-assets-v2']);
});

test('precache: revisions are in the key; install fetches what is missing, activate drops the rest', () => {
  const base = `${ORIGIN}/sw.js`;
  const config = SW.normalizeConfig({ precache: [{ url: '/demo', revision: 'r2' }, '/app.abc123.js', '/offline.html#top'] });
  assert.equal(SW.precacheKey(config.precache[0], base), `${ORIGIN}/demo?__chorus_revision=r2`);
  assert.equal(SW.precacheIndex(config, base).get(`${ORIGIN}/offline.html`), `${ORIGIN}/offline.html`);
  const plan = SW.precachePlan(config, base, [`${ORIGIN}/demo?__chorus_revision=r1`, `${ORIGIN}/app.abc123.js`]);
  assert.deepEqual(plan.fetch, [
    { url: `${ORIGIN}/demo`, key: `${ORIGIN}/demo?__chorus_revision=r2` },
    { url: `${ORIGIN}/offline.html`, key: `${ORIGIN}/offline.html` },
  ]);
  assert.deepEqual(plan.remove, [`${ORIGIN}/demo?__chorus_revision=r1`]);
});

test('precache lookup: exact URLs, and pages by navigations whatever their query string', () => {
  const index = SW.precacheIndex(SW.normalizeConfig({ precache: [{ url: '/demo', revision: 'r' }, '/app.js?v=2'] }), `${ORIGIN}/sw.js`);
  const key = `${ORIGIN}/demo?__chorus_revision=r`;
  assert.equal(SW.precacheLookup(index, `${ORIGIN}/demo#lobby`, false), key);
  assert.equal(SW.precacheLookup(index, `${ORIGIN}/demo?name=Ann#lobby`, true), key);
  assert.equal(SW.precacheLookup(index, `${ORIGIN}/demo?name=Ann`, false), undefined, 'only navigations drop the query');
  assert.equal(SW.precacheLookup(index, `${ORIGIN}/app.js?v=2`, false), `${ORIGIN}/app.js?v=2`);
  assert.equal(SW.precacheLookup(index, `${ORIGIN}/app.js?v=1`, false), undefined);
});

test('cache-first: a fresh cached response without the network; a miss fetches and caches 200s only', async () => {
  const { route: r, names } = route({ strategy: 'cache-first', expiration: { maxAgeSeconds: 60 } });
  const io = world();
  await seed(io, names, '/a', 'cached');
  assert.equal(await text(await SW.respond(r, names, io, request('/a'))), 'cached');
  assert.equal(io.fetches, 0);
  assert.equal(await text(await SW.respond(r, names, io, request('/b'))), 'net');
  await io.settled();
  assert.ok(await (await io.open(names.runtime('c'))).match(request('/b')), 'the miss was cached');
  io.clock += 61_000;
  assert.equal(await text(await SW.respond(r, names, io, request('/a'))), 'net', 'an expired entry is a miss');

  const failing = world({ network: () => new Response('nope', { status: 404 }) });
  assert.equal((await SW.respond(r, names, failing, request('/c'))).status, 404);
  await failing.settled();
  assert.equal(await (await failing.open(names.runtime('c'))).match(request('/c')), undefined, 'a 404 is not cached');
});

test('network-first: the network when it answers, the cache when it fails or times out', async () => {
  const { route: r, names } = route({ strategy: 'network-first', networkTimeoutSeconds: 3 });
  const online = world();
  await seed(online, names, '/a', 'cached');
  assert.equal(await text(await SW.respond(r, names, online, request('/a'))), 'net');
  await online.settled();
  assert.equal(await text(await (await online.open(names.runtime('c'))).match(request('/a'))), 'net', 'refreshed');

  const offline = world({ network: () => new TypeError('Failed to fetch') });
  await seed(offline, names, '/a', 'cached');
  assert.equal(await text(await SW.respond(r, names, offline, request('/a'))), 'cached');
  await assert.rejects(SW.respond(r, names, offline, request('/b')), /Failed to fetch/);

  let answer;
  const slow = world({ network: () => new Promise((resolve) => { answer = resolve; }) });
  await seed(slow, names, '/a', 'cached');
  const fromCache = SW.respond(r, names, slow, request('/a'));
  await new Promise(setImmediate);
  slow.fireTimers();
  assert.equal(await text(await fromCache), 'cached', 'the timeout falls back to the cache');
  const uncached = SW.respond(r, names, slow, request('/b'));
  await new Promise(setImmediate);
  slow.fireTimers();
  answer(new Response('late'));
  assert.equal(await text(await uncached), 'late', 'nothing cached: the late response is still used');
});

test('stale-while-revalidate: the cached response at once, and the cache refreshed behind it', async () => {
  const { route: r, names } = route({ strategy: 'stale-while-revalidate' });
  const io = world({ network: () => new Response('fresh') });
  await seed(io, names, '/a', 'stale');
  assert.equal(await text(await SW.respond(r, names, io, request('/a'))), 'stale');
  await io.settled();
  assert.equal(io.fetches, 1);
  assert.equal(await text(await (await io.open(names.runtime('c'))).match(request('/a'))), 'fresh');
  assert.equal(await text(await SW.respond(r, names, io, request('/new'))), 'fresh', 'a miss waits for the network');
});

test('cache-only never fetches; network-only never caches and fails on its timeout', async () => {
  const only = route({ strategy: 'cache-only' });
  const io = world();
  await seed(io, only.names, '/a', 'cached');
  assert.equal(await text(await SW.respond(only.route, only.names, io, request('/a'))), 'cached');
  await assert.rejects(SW.respond(only.route, only.names, io, request('/b')), /no-response/);
  assert.equal(io.fetches, 0);

  const net = route({ strategy: 'network-only', networkTimeoutSeconds: 1 });
  const slow = world({ network: () => new Promise(() => {}) });
  const pending = SW.respond(net.route, net.names, slow, request('/a'));
  await new Promise(setImmediate);
  slow.fireTimers();
  await assert.rejects(pending, /timed out/);
  const plain = route({ strategy: 'network-only' });
  const online = world();
  assert.equal(await text(await SW.respond(plain.route, plain.names, online, request('/a'))), 'net');
  await online.settled();
  assert.equal(online.caches.size, 0, 'network-only opened no cache');
});

test('a navigation preload response is used instead of a second fetch', async () => {
  const { route: r, names } = route({ strategy: 'network-first' });
  const io = world();
  const response = await SW.respond(r, names, io, request('/page'), Promise.resolve(new Response('preloaded')));
  assert.equal(await text(response), 'preloaded');
  assert.equal(io.fetches, 0);
});

test('expiration: entries past maxAgeSeconds go, then the oldest beyond maxEntries', async () => {
  const plan = SW.expirationPlan([
    { key: 'old', cachedAt: 0 }, { key: 'a', cachedAt: 900 }, { key: 'b', cachedAt: 800 },
    { key: 'c', cachedAt: 950 }, { key: 'opaque', cachedAt: null },
  ], { maxEntries: 2, maxAgeSeconds: 0.5 }, 1000);
  assert.deepEqual(plan, ['old', 'b', 'opaque']);

  const { route: r, names } = route({ strategy: 'cache-first', expiration: { maxEntries: 2 } });
  const io = world();
  for (const path of ['/1', '/2', '/3']) {
    io.clock += 1000;
    await SW.respond(r, names, io, request(path));
    await io.settled();
  }
  assert.deepEqual([...(await io.open(names.runtime('c'))).entries.keys()], [`${ORIGIN}/2`, `${ORIGIN}/3`]);
});

test('a quota error while caching purges (through onQuotaError) and still answers', async () => {
  const { route: r, names } = route({ strategy: 'network-first' });
  const io = world();
  (await io.open(names.runtime('c'))).failPut = Object.assign(new Error('full'), { name: 'QuotaExceededError' });
  assert.equal(await text(await SW.respond(r, names, io, request('/a'))), 'net');
  await io.settled();
  assert.equal(io.quotaErrors, 1);
  assert.ok(SW.isQuotaError({ code: 22 }));
  assert.ok(!SW.isQuotaError(new TypeError('x')));
});

/** An outbox in memory, in insertion order, like the IndexedDB one. */
function memoryOutbox(keys, more = []) {
  const entries = [...keys.map((key) => SW.outboxEntry('publish', { topic: 't', data: key, idempotency_key: key })), ...more];
  return {
    entries,
    all: async () => [...entries],
    remove: async (key) => { entries.splice(entries.findIndex((e) => e.key === key), 1); },
  };
}

test('outbox: what each answer of the hub means for a stored entry', () => {
  for (const status of [200, 201]) assert.equal(SW.outboxOutcome(status), 'delivered', status);
  for (const status of [0, 408, 429, 500, 503]) assert.equal(SW.outboxOutcome(status), 'retry', status);
  for (const status of [400, 401, 403, 404, 409, 412, 413]) assert.equal(SW.outboxOutcome(status), 'rejected', status);
});

test('outbox: publishes and mutations are keyed apart, and an incomplete one is refused', () => {
  const publish = SW.outboxEntry('publish', { topic: 't', data: 1, idempotency_key: 'k' }, 'Bearer x', 5);
  assert.deepEqual(publish, { kind: 'publish', key: 'publish k', publish: { topic: 't', data: 1, idempotency_key: 'k' }, authorization: 'Bearer x', queuedAt: 5 });
  const mutation = SW.outboxEntry('mutation', { collection: 'tasks:a', op: 'update', record_id: 'r', data: {}, base_version: 3, mutation_id: 'k' });
  assert.equal(mutation.key, 'mutation tasks:a k');
  assert.notEqual(SW.outboxEntry('mutation', { collection: 'tasks:b', op: 'delete', record_id: 'r', mutation_id: 'k' }).key, mutation.key);
  const bad = [
    ['publish', { topic: 't', data: 1 }, /idempotency_key/],
    ['mutation', { op: 'insert', data: 1, mutation_id: 'm' }, /collection/],
    ['mutation', { collection: 'c', op: 'upsert', data: 1, mutation_id: 'm' }, /op is one of insert, update, delete/],
    ['mutation', { collection: 'c', op: 'insert', data: 1 }, /mutation_id/],
    ['mutation', { collection: 'c', op: 'update', data: 1, mutation_id: 'm' }, /record_id/],
    ['mutation', { collection: 'c', op: 'insert', mutation_id: 'm' }, /needs data/],
    ['mutation', { collection: 'c', op: 'delete', record_id: 'r', base_version: '2', mutation_id: 'm' }, /base_version/],
    ['message', {}, /unknown outbox entry kind/],
  ];
  for (const [kind, value, message] of bad) assert.throws(() => SW.outboxEntry(kind, value), message);
});

test('outbox: each entry is replayed as its HTTP request, a mutation with its id and If-Match', () => {
  const urls = { publish: `${ORIGIN}/api/publish`, collections: `${ORIGIN}/api/collections/` };
  const request = (kind, value) => {
    const { url, init } = SW.outboxRequest(SW.outboxEntry(kind, value, 'Bearer jwt'), urls);
    return { url, method: init.method, headers: init.headers, body: init.body === undefined ? undefined : JSON.parse(init.body) };
  };
  assert.deepEqual(request('publish', { topic: 't', data: 1, idempotency_key: 'k' }), {
    url: `${ORIGIN}/api/publish`, method: 'POST', headers: { Authorization: 'Bearer jwt', 'Content-Type': 'application/json' },
    body: { topic: 't', data: 1, idempotency_key: 'k' },
  });
  const records = `${ORIGIN}/api/collections/tasks%3Aa%2Fb/records`;
  assert.deepEqual(request('mutation', { collection: 'tasks:a/b', op: 'insert', record_id: 'r 1', data: { n: 1 }, mutation_id: 'm1' }), {
    url: records, method: 'POST', headers: { Authorization: 'Bearer jwt', 'Content-Type': 'application/json' },
    body: { data: { n: 1 }, mutation_id: 'm1', id: 'r 1' },
  });
  assert.deepEqual(request('mutation', { collection: 'tasks:a/b', op: 'insert', data: 2, mutation_id: 'm2' }).body, { data: 2, mutation_id: 'm2' });
  assert.deepEqual(request('mutation', { collection: 'tasks:a/b', op: 'update', record_id: 'r 1', data: { n: 2 }, base_version: 4, mutation_id: 'm3' }), {
    url: `${records}/r%201`, method: 'PUT', headers: { Authorization: 'Bearer jwt', 'If-Match': '"4"', 'Content-Type': 'application/json' },
    body: { data: { n: 2 }, mutation_id: 'm3' },
  });
  assert.equal(request('mutation', { collection: 'c', op: 'update', record_id: 'r', data: 1, base_version: null, mutation_id: 'm' }).headers['If-Match'], undefined);
  assert.deepEqual(request('mutation', { collection: 'tasks:a/b', op: 'delete', record_id: 'r 1', base_version: 0, mutation_id: 'm4' }), {
    url: `${records}/r%201`, method: 'DELETE', headers: { Authorization: 'Bearer jwt', 'If-Match': '"0"', 'Idempotency-Key': 'm4' }, body: undefined,
  });
});

test('outbox: a conflicting mutation is settled as rejected with the record it met, and reported to pages', async () => {
  const mutation = { collection: 'tasks:a', op: 'update', record_id: 'r', data: { n: 2 }, base_version: 1, mutation_id: 'm1' };
  const outbox = memoryOutbox(['a'], [SW.outboxEntry('mutation', mutation)]);
  const current = { id: 'r', version: 2, data: { n: 9 }, updated_at: 1, updated_by: 'bob' };
  const result = await SW.flushOutbox(outbox, async (entry) => entry.kind === 'mutation'
    ? new Response(JSON.stringify({ error: { code: 'conflict', message: 'stale' }, current }), { status: 412 })
    : new Response(JSON.stringify({ message_id: 'm' }), { status: 200 }));
  assert.deepEqual([result.delivered.length, result.rejected.length, result.pending, outbox.entries.length], [1, 1, 0, 0]);
  assert.deepEqual(SW.outboxReport('rejected', result.rejected[0]),
    { type: 'OUTBOX_REJECTED', kind: 'mutation', mutation, error: { code: 'conflict', message: 'stale' }, current });
  assert.deepEqual(SW.outboxReport('delivered', result.delivered[0]),
    { type: 'OUTBOX_DELIVERED', kind: 'publish', publish: { topic: 't', data: 'a', idempotency_key: 'a' }, ack: { message_id: 'm' } });
});

test('outbox: a flush sends in order, drops what is settled, and stops at the first retry', async () => {
  const outbox = memoryOutbox(['a', 'b', 'c', 'd']);
  const answers = { a: 200, b: 403, c: 503 };
  const sent = [];
  const result = await SW.flushOutbox(outbox, async (entry) => {
    sent.push(entry.publish.idempotency_key);
    const status = answers[entry.publish.idempotency_key];
    return new Response(JSON.stringify(status === 200 ? { message_id: 'm1' } : { error: { code: 'forbidden' } }), { status });
  });
  assert.deepEqual(sent, ['a', 'b', 'c'], 'd waits behind c');
  assert.deepEqual(result.delivered.map((d) => [d.entry.publish.idempotency_key, d.ack.message_id]), [['a', 'm1']]);
  assert.deepEqual(result.rejected.map((r) => [r.entry.publish.idempotency_key, r.error.code]), [['b', 'forbidden']]);
  assert.equal(result.pending, 2);
  assert.deepEqual(outbox.entries.map((e) => e.publish.idempotency_key), ['c', 'd']);
  assert.equal(result.rejected[0].current, null, 'a publish meets no record');

  const offline = await SW.flushOutbox(outbox, async () => { throw new TypeError('Failed to fetch'); });
  assert.deepEqual([offline.delivered.length, offline.pending], [0, 2]);
  const back = await SW.flushOutbox(outbox, async () => new Response('{}', { status: 200 }));
  assert.deepEqual([back.delivered.length, back.pending, outbox.entries.length], [2, 0, 0]);
});

// ---- Web Push: what a push shows, and which window a click focuses ----

const PUSH = SW.normalizeConfig({ push: { title: 'App', icon: '/icon.svg' } }).push;
const SCOPE = `${ORIGIN}/`;

test('a push payload from the hub becomes a notification with its URL in the data', () => {
  const { title, options } = SW.notificationFromPush(
    { title: 'Storm', body: 'Wind at 90 km/h', url: '/demo#alerts', tag: 'alerts:news', data: { level: 3 } }, PUSH, SCOPE);
  assert.equal(title, 'Storm');
  assert.deepEqual(options, {
    body: 'Wind at 90 km/h', icon: `${ORIGIN}/icon.svg`, tag: 'alerts:news', renotify: true,
    data: { url: `${ORIGIN}/demo#alerts`, payload: { level: 3 } },
  });
});

test('a push without a title, url or JSON falls back to the configured ones', () => {
  assert.deepEqual(SW.notificationFromPush('plain text', PUSH, SCOPE),
    { title: 'App', options: { body: 'plain text', icon: `${ORIGIN}/icon.svg`, data: { url: SCOPE, payload: null } } });
  assert.deepEqual(SW.notificationFromPush(null, SW.normalizeConfig({}).push, SCOPE),
    { title: 'Chorus', options: { body: '', data: { url: SCOPE, payload: null } } });
  // Fields of the wrong type are ignored, not shown as "[object Object]".
  const odd = SW.notificationFromPush({ title: 7, body: { x: 1 }, url: ['/x'] }, PUSH, SCOPE);
  assert.equal(odd.title, 'App');
  assert.equal(odd.options.body, '');
  assert.equal(odd.options.data.url, SCOPE);
});

test('push data is read as JSON when it is JSON, as text otherwise', () => {
  const data = (text) => ({ json: () => JSON.parse(text), text: () => text });
  assert.deepEqual(SW.readPushData(data('{"title":"t"}')), { title: 't' });
  assert.equal(SW.readPushData(data('not json')), 'not json');
  assert.equal(SW.readPushData(null), null);
});

test('a notification click focuses the window showing its URL, else one on the same page, else none', () => {
  const windows = [{ url: `${ORIGIN}/dashboard` }, { url: `${ORIGIN}/demo#lobby` }, { url: `${ORIGIN}/demo#alerts` }];
  assert.equal(SW.windowForURL(windows, `${ORIGIN}/demo#alerts`), windows[2]);
  assert.equal(SW.windowForURL(windows, `${ORIGIN}/demo#other`), windows[1]);
  assert.equal(SW.windowForURL(windows, `${ORIGIN}/demo?x=1`), null);
  assert.equal(SW.windowForURL([], `${ORIGIN}/demo`), null);
});
