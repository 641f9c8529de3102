// The WebAssembly loader (clients/js/chorus-wasm.js) in Node: the cache's decisions against a
// fake fetch, Cache API and clock; memory options; the bytes ABI on the example kernels;
// feature detection; the worker pool on worker_threads (queueing, transfers, errors,
// termination); the benchmark helper on a fake clock; and a channel's `decode` option.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { ChorusClient } from '../chorus.js';
import {
  FEATURE_TESTS,
  WasmLoader,
  WorkerPool,
  benchmark,
  cacheDecision,
  callExport,
  detectFeatures,
  featureModule,
  instantiateModule,
  summarize,
  wasmDecoder,
} from '../chorus-wasm.js';
import { FakeWebSocket } from '../test-helpers/fake-websocket.mjs';
import { nextEvent } from '../test-helpers/wait.mjs';
import { example, wat } from '../test-helpers/wat.mjs';

const kernelBytes = example('kernels');
const kernels = await WebAssembly.compile(kernelBytes);
const busy = await WebAssembly.compile(example('busy'));
const busyImports = new URL('../../../examples/wasm/browser/busy-imports.js', import.meta.url);

/** The same checksum in JavaScript (RFC 1950), for checking the kernel. */
function adler32(bytes) {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// The cache

test('cacheDecision: fresh until maxAge, then expired; no time or a time from the future is expired', () => {
  assert.equal(cacheDecision(1000, 1000, 500), 'hit');
  assert.equal(cacheDecision(1000, 1499, 500), 'hit');
  assert.equal(cacheDecision(1000, 1500, 500), 'expired');
  assert.equal(cacheDecision(NaN, 1000, 500), 'expired');
  assert.equal(cacheDecision(2000, 1000, 500), 'expired');
  assert.equal(cacheDecision(0, 1e12, Infinity), 'hit');
});

/** A server, a Cache API and a clock the test controls. */
function world({ contentType = 'application/wasm', bytes = kernelBytes } = {}) {
  const w = { now: 1_000_000, requests: [], status: 200, contentType, bytes, putFails: false };
  w.fetch = async (url) => {
    w.requests.push(url);
    return new Response(w.bytes, { status: w.status, headers: { 'content-type': w.contentType } });
  };
  const stores = new Map();
  w.stores = stores;
  w.caches = {
    open: async (name) => {
      if (!stores.has(name)) stores.set(name, new Map());
      const store = stores.get(name);
      return {
        match: async (url) => store.get(url)?.clone(),
        put: async (url, response) => {
          if (w.putFails) throw new DOMException('quota', 'QuotaExceededError');
          store.set(url, response);
        },
        delete: async (url) => store.delete(url),
      };
    },
    delete: async (name) => stores.delete(name),
  };
  w.loader = (options = {}) => new WasmLoader({ fetch: w.fetch, caches: w.caches, now: () => w.now, maxAge: 60_000, ...options });
  return w;
}

const URL_A = 'https://app.test/wasm/kernels.wasm';

test('a module is fetched and compiled once; later loads hit memory, and a new page hits the Cache API', async () => {
  const w = world();
  const page = w.loader();
  const first = await page.load(URL_A);
  assert.ok(first instanceof WebAssembly.Module);
  assert.equal(await page.load(URL_A), first, 'the same compiled module from memory');
  const other = 'https://app.test/wasm/other.wasm';
  const [one, two] = await Promise.all([page.load(other), page.load(other)]);
  assert.equal(one, two, 'loads at the same time share one fetch and one compilation');
  w.requests.pop();
  assert.deepEqual(w.requests, [URL_A]);
  assert.deepEqual(page.stats, {
    modulesLoaded: 4, compiled: 2, compiledStreaming: 2, memoryHits: 2, persistentHits: 0,
    expired: 0, fetched: 2, cacheWriteErrors: 0, cacheHits: 2,
  });
  const stored = w.stores.get('chorus-wasm-v1').get(URL_A);
  assert.equal(stored.headers.get('x-chorus-wasm-cached-at'), String(w.now));

  w.now += 30_000;
  const reloaded = w.loader(); // a reload: memory is gone, the Cache API is not
  const module = await reloaded.load(URL_A);
  assert.deepEqual(WebAssembly.Module.exports(module), WebAssembly.Module.exports(first));
  assert.deepEqual(w.requests, [URL_A], 'no second request');
  assert.equal(reloaded.stats.persistentHits, 1);
  assert.equal(reloaded.stats.compiledStreaming, 1, 'the cached copy keeps application/wasm');
});

test('an entry past its max age is fetched again and stored anew, in memory as in the Cache API', async () => {
  const w = world();
  const page = w.loader();
  await page.load(URL_A);
  w.now += 60_000;
  await page.load(URL_A);
  assert.equal(w.requests.length, 2, 'the memory copy expired with the same max age');
  assert.equal(page.stats.memoryHits, 0);

  const reloaded = w.loader();
  w.now += 59_999;
  await reloaded.load(URL_A);
  assert.equal(reloaded.stats.persistentHits, 1, 'the refetch renewed the stored copy');
  w.now += 1;
  const later = w.loader();
  await later.load(URL_A);
  assert.equal(later.stats.expired, 1);
  assert.equal(w.requests.length, 3);
  assert.equal(w.stores.get('chorus-wasm-v1').get(URL_A).headers.get('x-chorus-wasm-cached-at'), String(w.now));
  // A memory copy made from a stored one ages with the stored one.
  const fromStore = w.loader();
  w.now += 50_000;
  await fromStore.load(URL_A);
  w.now += 10_000;
  await fromStore.load(URL_A);
  assert.equal(fromStore.stats.memoryHits, 0);
  assert.equal(fromStore.stats.expired, 1);
  assert.equal(w.requests.length, 4);
});

test('per-load maxAge, persist: false and clear()', async () => {
  const w = world();
  const page = w.loader();
  await page.load(URL_A, { persist: false });
  assert.equal(w.stores.size, 0, 'nothing in the Cache API');
  w.now += 10;
  await page.load(URL_A, { maxAge: 5 });
  assert.equal(w.requests.length, 2);
  await page.load(URL_A);
  await page.clear();
  assert.equal(w.stores.size, 0);
  await page.load(URL_A);
  assert.equal(w.requests.length, 3);
});

test('another content type is compiled from the whole body; a refused cache write is counted, not fatal', async () => {
  const w = world({ contentType: 'application/octet-stream' });
  w.putFails = true;
  const page = w.loader();
  assert.ok((await page.load(URL_A)) instanceof WebAssembly.Module);
  assert.equal(page.stats.compiled, 1);
  assert.equal(page.stats.compiledStreaming, 0);
  assert.equal(page.stats.cacheWriteErrors, 1);
});

test('a failed fetch or compile rejects with its code and is not cached', async () => {
  const w = world();
  w.status = 404;
  const page = w.loader();
  await assert.rejects(page.load(URL_A), { code: 'wasm_fetch_failed', message: `GET ${URL_A}: HTTP 404` });
  w.status = 200;
  w.bytes = new Uint8Array([0, 97, 115, 109, 2, 0, 0, 0]);
  await assert.rejects(page.load(URL_A), (error) => error.code === 'wasm_compile_failed' && error.message.startsWith(URL_A));
  w.bytes = kernelBytes;
  assert.ok(await page.load(URL_A));
  assert.equal(w.requests.length, 3);
  assert.equal(w.stores.get('chorus-wasm-v1').size, 1, 'only bytes that compiled were kept');
  assert.ok(await w.loader().load(URL_A), 'a reload compiles what was kept');
  const unreachable = new WasmLoader({ fetch: async () => { throw new TypeError('network down'); }, caches: undefined });
  await assert.rejects(unreachable.load(URL_A), { code: 'wasm_fetch_failed', message: `GET ${URL_A}: network down` });
});

// ---------------------------------------------------------------------------------------------
// Instances and the bytes ABI

const IMPORTED_MEMORY = `
(module
  (import "env" "memory" (memory 1 8))
  (func (export "pages") (result i32) memory.size)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`;

test('memory options create the memory the module imports, within its limits', async () => {
  const module = await WebAssembly.compile(wat(IMPORTED_MEMORY));
  const sized = await instantiateModule(module, { memory: { initial: 3, maximum: 4 } });
  assert.equal(sized.call('pages').value, 3);
  assert.equal(sized.memory.buffer.byteLength, 3 * 65536);
  assert.equal(sized.call('grow', { args: [1] }).value, 3);
  assert.equal(sized.call('grow', { args: [1] }).value, -1, 'the maximum holds');
  await assert.rejects(instantiateModule(module, { memory: { initial: 1, maximum: 16 } }), { code: 'wasm_instantiate_failed' });
  await assert.rejects(instantiateModule(kernels, { memory: { initial: 2 } }), { code: 'wasm_no_memory_import' });
  await assert.rejects(instantiateModule(module), { code: 'wasm_instantiate_failed' }, 'its memory is missing');
});

test('the example kernels: base64 in place, Adler-32, and refusals', async () => {
  const { call } = await instantiateModule(kernels);
  const decode = (text) => new TextDecoder().decode(call('base64_decode', { input: text, output: true }).output);
  const payload = JSON.stringify({ reading: 21.5, unit: 'C', tags: ['a', 'b'] });
  assert.equal(decode(Buffer.from(payload).toString('base64')), payload);
  assert.equal(decode(Buffer.from(payload).toString('base64url')), payload, 'URL-safe, no padding');
  assert.equal(decode(''), '');
  for (const bad of ['a', 'ab$d', 'aGk===', 'a=bc']) {
    assert.throws(() => call('base64_decode', { input: bad, output: true }), { code: 'wasm_kernel_error' }, bad);
  }
  const bytes = new Uint8Array(100_000).map((_, i) => (i * 7919) & 0xff);
  assert.equal(call('adler32', { input: bytes }).value >>> 0, adler32(bytes));
  assert.equal(call('adler32', { input: new Uint8Array(0) }).value, 1);
  const text = 'é✓ snow ☃ and 𝄞';
  assert.equal(call('adler32', { input: text }).value >>> 0, adler32(new TextEncoder().encode(text)), 'a string goes in as UTF-8');
  assert.throws(() => call('missing'), { code: 'wasm_no_export' });
  const plain = await instantiateModule(await WebAssembly.compile(wat(IMPORTED_MEMORY)), { memory: { maximum: 8 } });
  assert.throws(() => plain.call('pages', { input: 'x' }), { code: 'wasm_abi' });
});

// ---------------------------------------------------------------------------------------------
// Feature detection

test('each feature test is the bytes wat2wasm makes of its WAT', () => {
  for (const [name, { wat: source }] of Object.entries(FEATURE_TESTS)) {
    assert.deepEqual(featureModule(name), wat(source, { features: ['--enable-all'] }), name);
  }
});

test('feature detection: what this Node has, and what engines without a feature report', () => {
  assert.deepEqual(detectFeatures(), {
    webAssembly: true, streaming: true, simd: true, threads: true, sharedArrayBuffer: true,
    crossOriginIsolated: null, bulkMemory: true, referenceTypes: true, tailCalls: true,
  });
  // An MVP engine: only a module with none of the features validates.
  const mvp = { validate: (bytes) => bytes.length === 8 };
  assert.deepEqual(detectFeatures({ WebAssembly: mvp, crossOriginIsolated: false }), {
    webAssembly: true, streaming: false, simd: false, threads: false, sharedArrayBuffer: false,
    crossOriginIsolated: false, bulkMemory: false, referenceTypes: false, tailCalls: false,
  });
  // Shared memory validates, but a page that is not cross-origin isolated has no SharedArrayBuffer.
  const isolatedOff = detectFeatures({ WebAssembly, crossOriginIsolated: false });
  assert.equal(isolatedOff.threads, false);
  assert.equal(isolatedOff.simd, true);
  const throwing = { validate: () => { throw new Error('no'); } };
  assert.equal(detectFeatures({ WebAssembly: throwing }).simd, false);
  assert.equal(detectFeatures({}).webAssembly, false);
});

// ---------------------------------------------------------------------------------------------
// The worker pool

/** The most tasks that were running at one moment, from their start and end times. */
function mostAtOnce(results) {
  const edges = results.flatMap(({ started, ended }) => [[started, 1], [ended, -1]]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // an end before a start at the same time
  let running = 0;
  let most = 0;
  for (const [, step] of edges) most = Math.max(most, (running += step));
  return most;
}

test('the pool queues what its workers cannot take yet, and runs the rest side by side', async (t) => {
  const pool = new WorkerPool({ size: 2, importsURL: busyImports });
  t.after(() => pool.terminate());
  const runs = [1, 2, 3, 4, 5].map(() => pool.run({ module: busy, export: 'busy', args: [30] }));
  assert.equal(pool.stats.queued, 3);
  const results = await Promise.all(runs);
  assert.ok(results.every((result) => result.value > 0 && result.ended - result.started >= 30));
  assert.deepEqual(new Set(results.map((result) => result.worker)), new Set([0, 1]));
  assert.equal(mostAtOnce(results), 2, 'never more than two at once, and two did overlap');
  assert.deepEqual({ ...pool.stats, averageTaskMs: pool.stats.averageTaskMs >= 30 }, {
    tasksRun: 5, tasksFailed: 0, averageTaskMs: true, queued: 0, workers: 2,
  });
});

test('a pool runs bytes calls, moving transferred buffers, and loads module URLs through its loader', async (t) => {
  const w = world();
  const pool = new WorkerPool({ size: 1, loader: w.loader() });
  t.after(() => pool.terminate());
  const input = new TextEncoder().encode(Buffer.from('hello, worker').toString('base64'));
  const result = await pool.run({ module: URL_A, export: 'base64_decode', input, output: true, transfer: [input.buffer] });
  assert.equal(input.byteLength, 0, 'the input moved to the worker');
  assert.equal(new TextDecoder().decode(result.output), 'hello, worker');
  const checksum = await pool.run({ module: URL_A, export: 'adler32', input: 'abc' });
  assert.equal(checksum.value >>> 0, adler32(new TextEncoder().encode('abc')));
  assert.equal(w.requests.length, 1);
});

test('a trap, a refusal or a missing export rejects that task only; the pool goes on', async (t) => {
  const trap = await WebAssembly.compile(wat('(module (func (export "boom") unreachable))'));
  const pool = new WorkerPool({ size: 1 });
  t.after(() => pool.terminate());
  const outcomes = await Promise.allSettled([
    pool.run({ module: trap, export: 'boom' }),
    pool.run({ module: kernels, export: 'base64_decode', input: '!!!!', output: true }),
    pool.run({ module: kernels, export: 'nope' }),
    pool.run({ module: 'not a url at all:', export: 'x' }),
    pool.run({ module: kernels, export: 'adler32', input: '' }),
  ]);
  assert.equal(outcomes[0].reason.code, 'wasm_task_failed');
  assert.equal(outcomes[0].reason.remoteName, 'RuntimeError');
  assert.match(outcomes[0].reason.message, /unreachable/);
  assert.equal(outcomes[1].reason.code, 'wasm_kernel_error');
  assert.equal(outcomes[2].reason.code, 'wasm_no_export');
  assert.equal(outcomes[3].status, 'rejected');
  assert.equal(outcomes[4].value.value, 1);
  assert.equal(pool.stats.tasksFailed, 4);
  assert.equal(pool.stats.tasksRun, 1);
});

test('a worker that dies rejects its task and is replaced', async (t) => {
  let made = 0;
  const dying = new URL('data:text/javascript,throw new Error("worker script failed")');
  const pool = new WorkerPool({
    size: 1,
    createWorker: async (url) => {
      const { Worker } = await import('node:worker_threads');
      return new Worker(++made === 1 ? dying : new URL(url));
    },
  });
  t.after(() => pool.terminate());
  await assert.rejects(pool.run({ module: kernels, export: 'adler32', input: 'a' }), { code: 'wasm_worker_failed', message: 'worker script failed' });
  const next = await pool.run({ module: kernels, export: 'adler32', input: 'a' });
  assert.equal(next.value, adler32([97]));
  assert.equal(next.worker, 1, 'the replacement is a new worker');
  assert.equal(made, 2);
});

test('terminate while a task\'s module is still loading: the task rejects and nothing is sent', async () => {
  let release;
  const loader = { load: () => new Promise((resolve) => { release = resolve; }) };
  const posted = [];
  const pool = new WorkerPool({ size: 1, loader, createWorker: () => ({ postMessage: (message) => posted.push(message), terminate() {}, on() {} }) });
  const task = pool.run({ module: URL_A, export: 'adler32', input: 'a' });
  pool.terminate();
  await assert.rejects(task, { code: 'pool_terminated' });
  release(kernels);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(posted, []);
  assert.equal(pool.stats.tasksFailed, 0);
});

test('terminate rejects running and queued tasks, and later runs', async () => {
  const pool = new WorkerPool({ size: 1, importsURL: busyImports });
  const running = pool.run({ module: busy, export: 'busy', args: [5000] });
  const queued = pool.run({ module: busy, export: 'busy', args: [1] });
  pool.terminate();
  await assert.rejects(running, { code: 'pool_terminated' });
  await assert.rejects(queued, { code: 'pool_terminated' });
  await assert.rejects(pool.run({ module: busy, export: 'busy', args: [1] }), { code: 'pool_terminated' });
  assert.throws(() => new WorkerPool({ size: 0 }), /positive integer/);
});

// ---------------------------------------------------------------------------------------------
// Benchmarks

test('summarize: median of odd and even counts, mean, min and max', () => {
  assert.deepEqual(summarize([3, 1, 2]), { median: 2, mean: 2, min: 1, max: 3 });
  assert.deepEqual(summarize([4, 1, 3, 2]), { median: 2.5, mean: 2.5, min: 1, max: 4 });
});

test('benchmark: warm-up runs are not timed; speedup is the JavaScript median over the wasm one', async () => {
  let clock = 0;
  const calls = { wasm: 0, js: 0 };
  const result = await benchmark({
    wasm: () => { calls.wasm++; clock += calls.wasm === 6 ? 10 : 1; }, // one slow outlier among the timed
    js: async () => { calls.js++; clock += 3; },
    warmup: 2,
    iterations: 5,
    now: () => clock,
  });
  assert.deepEqual(calls, { wasm: 7, js: 7 });
  assert.deepEqual(result.wasm, { median: 1, mean: 14 / 5, min: 1, max: 10 });
  assert.equal(result.js.median, 3);
  assert.equal(result.speedup, 3);
  assert.equal((await benchmark({ wasm: () => {}, iterations: 1, warmup: 0 })).speedup, null);
});

// ---------------------------------------------------------------------------------------------
// A channel that decodes

beforeEach(() => FakeWebSocket.reset());

async function subscribedChannel(t, name, options) {
  const client = new ChorusClient('ws://hub.test/ws', { WebSocket: FakeWebSocket, heartbeatInterval: 0 });
  t.after(() => client.close());
  const socket = await FakeWebSocket.nth(1);
  socket.open();
  const channel = client.channel(name, options);
  const confirmed = channel.subscribe();
  await socket.reply('subscribe', { type: 'subscribed', topic: name }, name);
  await confirmed;
  return { channel, socket };
}

const message = (data, offset) => ({ type: 'message', topic: 'sensors:1', event: 'reading', data, message_id: `m${offset}`, ts: offset, offset, epoch: 'e' });

test('decode: messages are decoded side by side and emitted in arrival order; a failure is an error event', async (t) => {
  const releases = [];
  const decode = (data) => new Promise((resolve, reject) => releases.push(() => (data === 'bad' ? reject(new Error('not base64')) : resolve(data.toUpperCase()))));
  const { channel, socket } = await subscribedChannel(t, 'sensors:1', { decode });
  const seen = [];
  channel.on('reading', (data, frame) => seen.push([data, frame.encoded, frame.offset]));
  const errors = [];
  channel.on('error', (error) => errors.push([error.code, error.message, error.frame.offset]));
  socket.receive(message('a', 1));
  socket.receive(message('bad', 2));
  socket.receive(message('c', 3));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(releases.length, 3, 'all three decode at once');
  releases[2]();
  releases[1]();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, [], 'the third waits for the first');
  releases[0]();
  await nextEvent(channel, 'reading', { predicate: (data) => data === 'C' });
  assert.deepEqual(seen, [['A', 'a', 1], ['C', 'c', 3]]);
  assert.deepEqual(errors, [['decode_failed', "could not decode a message on 'sensors:1': not base64", 2]]);
});

test('decode through a wasm export in the pool: base64 JSON payloads arrive as objects', async (t) => {
  const pool = new WorkerPool({ size: 2 });
  t.after(() => pool.terminate());
  const { channel, socket } = await subscribedChannel(t, 'sensors:1', { decode: { module: kernels, export: 'base64_decode', pool } });
  const readings = [];
  channel.on('reading', (data) => readings.push(data));
  for (let i = 1; i <= 5; i++) socket.receive(message(Buffer.from(JSON.stringify({ i })).toString('base64'), i));
  socket.receive(message('%%%', 6));
  const [error] = await nextEvent(channel, 'error');
  assert.equal(error.code, 'decode_failed');
  assert.match(error.message, /base64_decode refused its input/);
  assert.deepEqual(readings, [1, 2, 3, 4, 5].map((i) => ({ i })));
  assert.equal(pool.stats.tasksRun, 5);
  assert.throws(() => wasmDecoder({ module: kernels, export: 'base64_decode', as: 'xml' }), /decode.as must be one of/);
  const client = channel.client;
  assert.throws(() => client.channel('other', { decode: { module: kernels } }), /decode must be a function or \{ module, export \}/);
  const asValue = wasmDecoder({ module: kernels, export: 'adler32', as: 'value', pool });
  assert.equal((await asValue('abc')) >>> 0, adler32(new TextEncoder().encode('abc')));
  const asText = wasmDecoder({ module: kernels, export: 'base64_decode', as: 'text', pool });
  assert.equal(await asText('aGk='), 'hi');
  const asBytes = wasmDecoder({ module: kernels, export: 'base64_decode', as: 'bytes', pool });
  assert.deepEqual(await asBytes('AAEC'), new Uint8Array([0, 1, 2]));
});
