// The page side (clients/js/chorus-pwa.js) against stand-ins for the ServiceWorkerContainer,
// the registration, its workers, window and CacheStorage: the update flows step by step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChorusPWA, registerServiceWorker } from '../chorus-pwa.js';

class FakeWorker extends EventTarget {
  constructor() { super(); this.state = 'installing'; this.messages = []; }
  postMessage(message) { this.messages.push(message); }
  become(state) { this.state = state; this.dispatchEvent(new Event('statechange')); }
}

/** A browser with a controlling worker (a returning visitor) unless `firstVisit`. */
function browser({ firstVisit = false, waiting = null, sync = undefined } = {}) {
  const registration = Object.assign(new EventTarget(), { installing: null, waiting, sync, updates: 0 });
  registration.update = async () => { registration.updates++; };
  const container = Object.assign(new EventTarget(), {
    controller: firstVisit ? null : new FakeWorker(),
    registered: [],
    ready: Promise.resolve(registration),
    register: async (url, options) => { container.registered.push([url, options]); return registration; },
  });
  const window = Object.assign(new EventTarget(), { reloads: 0 });
  window.location = { reload: () => window.reloads++ };
  const stores = new Map([['a', new Map([['/x', new Response('12345')]])], ['b', new Map()]]);
  const caches = {
    keys: async () => [...stores.keys()],
    open: async (name) => ({
      keys: async () => [...stores.get(name).keys()].map((url) => ({ url })),
      match: async ({ url }) => stores.get(name).get(url)?.clone(),
    }),
    delete: async (name) => stores.delete(name),
  };
  const navigator = { serviceWorker: container, onLine: true, storage: { estimate: async () => ({ usage: 10, quota: 100 }) } };
  return { registration, container, window, caches, navigator, stores };
}

/** A new worker found by the browser's update check, installed and now waiting. */
function newVersion(b) {
  const worker = new FakeWorker();
  b.registration.installing = worker;
  b.registration.dispatchEvent(new Event('updatefound'));
  b.registration.installing = null;
  b.registration.waiting = worker;
  worker.become('installed');
  return worker;
}

function pwa(b, options = {}) {
  const events = [];
  const instance = new ChorusPWA({ navigator: b.navigator, window: b.window, caches: b.caches, ...options });
  for (const name of ['registered', 'updateAvailable', 'updated', 'online', 'offline']) {
    instance.on(name, (value) => events.push(name === 'updateAvailable' ? [name, value.worker] : name));
  }
  return { instance, events };
}

test('an unknown update strategy is refused; register passes the script URL and scope', async () => {
  assert.throws(() => new ChorusPWA({ updateStrategy: 'later' }), /updateStrategy must be one of immediate, on-reload, manual/);
  const b = browser();
  const { instance, events } = pwa(b, { scriptURL: '/app/sw.js', scope: '/app/' });
  const registering = instance.register();
  const checked = instance.update();   // before registration settled: waits for it
  assert.equal(await registering, b.registration);
  assert.equal(await instance.register(), b.registration, 'registers once');
  await checked;
  assert.equal(b.registration.updates, 1);
  assert.deepEqual(b.container.registered, [['/app/sw.js', { scope: '/app/' }]]);
  assert.deepEqual(b.container.registered.length, 1);
  assert.deepEqual(events, ['registered']);
});

test('the first install is not an update: no event, no reload when it takes control', async () => {
  const b = browser({ firstVisit: true });
  const { instance, events } = pwa(b, { updateStrategy: 'immediate' });
  await instance.register();
  const worker = newVersion(b);
  b.container.dispatchEvent(new Event('controllerchange'));
  assert.deepEqual(events, ['registered']);
  assert.deepEqual(worker.messages, []);
  assert.equal(b.window.reloads, 0);
});

test('manual: updateAvailable, and nothing more until apply(); then skipWaiting, updated, reload', async () => {
  const b = browser();
  let update;
  const { instance, events } = pwa(b, { updateStrategy: 'manual' });
  instance.on('updateAvailable', (value) => { update = value; });
  await instance.register();
  const worker = newVersion(b);
  assert.deepEqual(events, ['registered', ['updateAvailable', worker]]);
  assert.deepEqual(worker.messages, []);
  assert.equal(instance.waiting, worker);
  assert.equal(update.apply(), true);
  assert.deepEqual(worker.messages, [{ type: 'SKIP_WAITING' }]);
  b.container.dispatchEvent(new Event('controllerchange'));
  assert.deepEqual(events.at(-1), 'updated');
  assert.equal(b.window.reloads, 1);
});

test('a version already installing when register() resolves is reported too', async () => {
  const b = browser();
  const worker = new FakeWorker();
  b.registration.installing = worker;
  const { instance, events } = pwa(b, { updateStrategy: 'manual' });
  await instance.register();
  b.registration.installing = null;
  b.registration.waiting = worker;
  worker.become('installed');
  assert.deepEqual(events, ['registered', ['updateAvailable', worker]]);
});

test('immediate: the new worker is told to skip waiting as soon as it is installed', async () => {
  const b = browser();
  const { instance } = pwa(b, { updateStrategy: 'immediate', reloadOnUpdate: false });
  await instance.register();
  const worker = newVersion(b);
  assert.deepEqual(worker.messages, [{ type: 'SKIP_WAITING' }]);
  b.container.dispatchEvent(new Event('controllerchange'));
  assert.equal(b.window.reloads, 0, 'reloadOnUpdate: false leaves the page alone');
});

test('on-reload: found now, applied when the page next starts with the worker waiting', async () => {
  const first = browser();
  const now = pwa(first, { updateStrategy: 'on-reload' });
  await now.instance.register();
  const worker = newVersion(first);
  assert.deepEqual(now.events, ['registered', ['updateAvailable', worker]]);
  assert.deepEqual(worker.messages, []);

  const next = browser({ waiting: worker });
  const later = pwa(next, { updateStrategy: 'on-reload' });
  await later.instance.register();
  assert.deepEqual(later.events, ['registered', ['updateAvailable', worker]]);
  assert.deepEqual(worker.messages, [{ type: 'SKIP_WAITING' }]);
  next.container.dispatchEvent(new Event('controllerchange'));
  assert.equal(next.window.reloads, 1);
});

test('online and offline are relayed; without service workers register resolves to null', async () => {
  const b = browser();
  const { instance, events } = pwa(b);
  await instance.register();
  b.window.dispatchEvent(new Event('offline'));
  b.window.dispatchEvent(new Event('online'));
  assert.deepEqual(events, ['registered', 'offline', 'online']);
  assert.equal(instance.online, true);
  const bare = new ChorusPWA({ navigator: {}, window: new EventTarget(), caches: b.caches });
  assert.equal(bare.supported, false);
  assert.equal(await bare.register(), null);
  assert.equal(await bare.requestBackgroundSync('x'), false);
});

test('storage reports usage, quota and each cache; one cache or all can be cleared', async () => {
  const b = browser();
  const { instance } = pwa(b);
  assert.deepEqual(await instance.storage(), {
    usage: 10, quota: 100, caches: [{ name: 'a', entries: 1, bytes: 5 }, { name: 'b', entries: 0, bytes: 0 }],
  });
  assert.equal(await instance.clearCache('a'), true);
  assert.equal(await instance.clearCache('a'), false);
  b.stores.set('c', new Map());
  assert.deepEqual(await instance.clearCaches(), ['b', 'c']);
  assert.equal(b.stores.size, 0);
});

test('requestBackgroundSync registers the tag where Background Sync exists', async () => {
  const tags = [];
  const b = browser({ sync: { register: async (tag) => tags.push(tag) } });
  assert.equal(await pwa(b).instance.requestBackgroundSync('chorus-publish'), true);
  assert.deepEqual(tags, ['chorus-publish']);
  assert.equal(await pwa(browser()).instance.requestBackgroundSync('chorus-publish'), false);
});

test('registerServiceWorker reports a failed registration as an error event', async () => {
  const b = browser();
  b.container.register = async () => { throw new Error('SecurityError'); };
  const instance = registerServiceWorker({ navigator: b.navigator, window: b.window, caches: b.caches });
  const error = await new Promise((resolve) => instance.on('error', resolve));
  assert.match(error.message, /SecurityError/);
});

test('the outbox: publishes go to the controlling worker, whose reports become events', async () => {
  const b = browser();
  const worker = b.container.controller;
  worker.postMessage = (message, [port]) => {
    worker.messages.push(message);
    port.postMessage(message.type === 'QUEUE_PUBLISH' ? { queued: true } : { delivered: 1, rejected: 0, pending: 0 });
  };
  const { instance } = pwa(b);
  const seen = [];
  instance.on('published', (value) => seen.push(['published', value]));
  instance.on('publishRejected', (value) => seen.push(['rejected', value]));
  await instance.register();
  const publish = { topic: 'demo:lobby', event: 'chat', data: { text: 'hi' }, idempotency_key: 'k1' };
  await assert.rejects(instance.queuePublish({ topic: 'demo:lobby', data: 1 }), /idempotency_key/);
  assert.equal(await instance.queuePublish(publish, { token: 'jwt' }), true);
  assert.deepEqual(worker.messages, [{ type: 'QUEUE_PUBLISH', publish, authorization: 'Bearer jwt' }]);
  assert.deepEqual(await instance.flushOutbox(), { delivered: 1, rejected: 0, pending: 0 });
  b.container.dispatchEvent(Object.assign(new Event('message'), { data: { type: 'OUTBOX_DELIVERED', publish, ack: { message_id: 'm' } } }));
  b.container.dispatchEvent(Object.assign(new Event('message'), { data: { type: 'OUTBOX_REJECTED', publish, error: { code: 'forbidden' } } }));
  assert.deepEqual(seen, [['published', { publish, ack: { message_id: 'm' } }], ['rejected', { publish, error: { code: 'forbidden' } }]]);

  const uncontrolled = pwa(browser({ firstVisit: true })).instance;
  assert.equal(uncontrolled.controlled, false);
  assert.equal(await uncontrolled.queuePublish(publish), false);
});

test('the outbox: mutations go to the same worker, and its reports become mutated and mutationRejected', async () => {
  const b = browser();
  const worker = b.container.controller;
  worker.postMessage = (message, [port]) => {
    worker.messages.push(message);
    port.postMessage(message.mutation.op === 'delete' ? { error: 'a queued delete needs a record_id' } : { queued: true });
  };
  const { instance } = pwa(b);
  const seen = [];
  for (const name of ['mutated', 'mutationRejected', 'published', 'publishRejected']) instance.on(name, (value) => seen.push([name, value]));
  await instance.register();
  const mutation = { collection: 'tasks:a', op: 'update', record_id: 'r', data: { n: 2 }, base_version: 1, mutation_id: 'm1' };
  await assert.rejects(instance.queueMutation({ collection: 'tasks:a', op: 'insert', data: 1 }), /mutation_id/);
  assert.equal(await instance.queueMutation(mutation, { token: 'jwt' }), true);
  assert.deepEqual(worker.messages, [{ type: 'QUEUE_MUTATION', mutation, authorization: 'Bearer jwt' }]);
  // The worker's refusal of an incomplete mutation reaches the caller.
  await assert.rejects(instance.queueMutation({ collection: 'tasks:a', op: 'delete', mutation_id: 'm2' }), /record_id/);

  const ack = { record_id: 'r', version: 2, mutation_id: 'm1', record: null };
  const current = { id: 'r', version: 2, data: { n: 9 }, updated_at: 1, updated_by: 'bob' };
  const error = { code: 'conflict', message: 'stale' };
  b.container.dispatchEvent(Object.assign(new Event('message'), { data: { type: 'OUTBOX_DELIVERED', kind: 'mutation', mutation, ack } }));
  b.container.dispatchEvent(Object.assign(new Event('message'), { data: { type: 'OUTBOX_REJECTED', kind: 'mutation', mutation, error, current } }));
  assert.deepEqual(seen, [['mutated', { mutation, ack }], ['mutationRejected', { mutation, error, current }]]);
  assert.equal(await pwa(browser({ firstVisit: true })).instance.queueMutation(mutation), false);
});

test('the push subscription id is the one the hub derives from the endpoint', async () => {
  const { pushSubscriptionID, base64URLToBytes } = await import('../chorus-pwa.js');
  // SHA-256("https://push.example.net/abc"), first 16 bytes, base64url (the hub's APIRoutes.subscriptionID).
  const { createHash } = await import('node:crypto');
  const expected = createHash('sha256').update('https://push.example.net/abc').digest().subarray(0, 16).toString('base64url');
  assert.equal(await pushSubscriptionID('https://push.example.net/abc'), expected);
  assert.deepEqual([...base64URLToBytes('BAEC_-8')], [4, 1, 2, 255, 239]);
});

test('subscribePush asks permission, subscribes with the key and registers with the hub; unsubscribePush undoes both', async () => {
  const { pushSubscriptionID } = await import('../chorus-pwa.js');
  const b = browser();
  const endpoint = 'https://push.example.net/e1';
  let current = null;
  b.registration.pushManager = {
    getSubscription: async () => current,
    subscribe: async (options) => {
      current = {
        options, endpoint, unsubscribed: false,
        toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh: 'P', auth: 'A' } }),
        unsubscribe: async () => { current.unsubscribed = true; const was = current; current = null; return was; },
      };
      return current;
    },
  };
  const asked = [];
  b.window.Notification = { permission: 'default', requestPermission: async () => { asked.push(1); return 'granted'; } };
  const calls = [];
  const fetch = async (url, init) => {
    calls.push([url, init]);
    return new Response(init.method === 'POST' ? JSON.stringify({ id: 'x', user: 'ann', endpoint, topics: ['demo:lobby'], created_at: 1 }) : null,
      { status: init.method === 'POST' ? 201 : 204 });
  };
  const { instance } = pwa(b, { fetch });

  const record = await instance.subscribePush('BAEC', { hub: 'https://hub.example', token: 'jwt', topics: ['demo:lobby'] });
  assert.equal(record.user, 'ann');
  assert.equal(asked.length, 1);
  assert.deepEqual([...current.options.applicationServerKey], [4, 1, 2]);
  assert.equal(current.options.userVisibleOnly, true);
  assert.deepEqual(calls[0], ['https://hub.example/api/push/subscriptions', {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer jwt' },
    body: JSON.stringify({ endpoint, keys: { p256dh: 'P', auth: 'A' }, topics: ['demo:lobby'] }),
  }]);

  const subscription = current;
  assert.equal(await instance.unsubscribePush({ hub: 'https://hub.example', token: 'jwt' }), true);
  assert.deepEqual(calls[1], [`https://hub.example/api/push/subscriptions/${await pushSubscriptionID(endpoint)}`,
    { method: 'DELETE', headers: { Authorization: 'Bearer jwt' } }]);
  assert.equal(subscription.unsubscribed, true);
  assert.equal(await instance.unsubscribePush(), false, 'nothing left to remove');

  // Permission refused: nothing is subscribed or sent.
  const denied = browser();
  denied.registration.pushManager = b.registration.pushManager;
  denied.window.Notification = { permission: 'default', requestPermission: async () => 'denied' };
  await assert.rejects(pwa(denied, { fetch }).instance.subscribePush('BAEC'), /not allowed/);
  assert.equal(current, null);
  assert.equal(calls.length, 2);
});
