// Chorus WebAssembly loader: compiles modules once (streaming where the server says
// application/wasm), keeps them in memory and, across reloads, in the Cache API with a max age;
// instantiates them with memory options; runs their exports on a pool of workers; detects what
// the engine supports; and measures a kernel against JavaScript. One ES module, no build step;
// it runs in browsers and, with worker_threads for the pool, in Node. See docs/wasm.md,
// "Browser loader".
import { ChorusError } from './chorus.js';

/** The Cache API cache that keeps module bytes across reloads. */
export const CACHE_NAME = 'chorus-wasm-v1';
/** How long a module in the Cache API stays fresh unless `maxAge` says otherwise: one day. */
export const DEFAULT_MAX_AGE = 24 * 60 * 60 * 1000;
/** The header a cached response carries with the time (ms since the epoch) it was fetched. */
const CACHED_AT = 'x-chorus-wasm-cached-at';

const utf8 = new TextEncoder();
const monotonicNow = () => globalThis.performance?.now() ?? Date.now();
/** A clock that means the same in every thread, for task start and end times. */
const sharedNow = () => (globalThis.performance ? performance.timeOrigin + performance.now() : Date.now());

/**
 * Whether a module cached at `storedAt` may be used at `now` ('hit') or must be fetched again
 * ('expired'). An entry without a time, or from the future (the clock went back), is refetched:
 * fetching again is always safe.
 */
export function cacheDecision(storedAt, now, maxAge) {
  const age = now - storedAt;
  return Number.isFinite(age) && age >= 0 && age < maxAge ? 'hit' : 'expired';
}

// ---------------------------------------------------------------------------------------------
// Loading and the module cache

/**
 * Fetches and compiles modules, each URL once while it is fresh. Everything it touches outside
 * WebAssembly (fetch, the Cache API, the clock) can be injected, for tests.
 */
export class WasmLoader {
  #fetch;
  #caches;
  #cacheName;
  #maxAge;
  #now;
  #held = new Map(); // URL → { module: Promise<WebAssembly.Module>, at }
  #stats = { modulesLoaded: 0, compiled: 0, compiledStreaming: 0, memoryHits: 0, persistentHits: 0, expired: 0, fetched: 0, cacheWriteErrors: 0 };

  constructor({ fetch = globalThis.fetch?.bind(globalThis), caches = globalThis.caches, cacheName = CACHE_NAME, maxAge = DEFAULT_MAX_AGE, now = Date.now } = {}) {
    this.#fetch = fetch;
    this.#caches = caches;
    this.#cacheName = cacheName;
    this.#maxAge = maxAge;
    this.#now = now;
  }

  /** Counters since the loader was made; `cacheHits` is memory and Cache API hits together. */
  get stats() {
    return { ...this.#stats, cacheHits: this.#stats.memoryHits + this.#stats.persistentHits };
  }

  /**
   * The compiled module at `url`: from memory, from the Cache API, or fetched and compiled (and
   * then kept in both). Entries older than `maxAge` ms are fetched again. `persist: false` keeps
   * the module in memory only.
   */
  async load(url, { maxAge = this.#maxAge, persist = true } = {}) {
    const key = new URL(url, globalThis.location?.href).href;
    const held = this.#held.get(key);
    if (held && cacheDecision(held.at, this.#now(), maxAge) === 'hit') {
      this.#stats.memoryHits++;
      const module = await held.module;
      this.#stats.modulesLoaded++;
      return module;
    }
    const entry = { at: this.#now(), module: null };
    entry.module = this.#fetchAndCompile(key, maxAge, persist, entry);
    this.#held.set(key, entry);
    try {
      const module = await entry.module;
      this.#stats.modulesLoaded++;
      return module;
    } catch (error) {
      if (this.#held.get(key) === entry) this.#held.delete(key); // a failure is not cached
      throw error;
    }
  }

  /** Forgets every module, in memory and in the Cache API. */
  async clear() {
    this.#held.clear();
    await this.#caches?.delete(this.#cacheName);
  }

  async #fetchAndCompile(key, maxAge, persist, entry) {
    const cache = persist && this.#caches ? await this.#caches.open(this.#cacheName) : null;
    const cached = await cache?.match(key);
    if (cached) {
      const at = Number(cached.headers.get(CACHED_AT));
      if (cacheDecision(at, this.#now(), maxAge) === 'hit') {
        this.#stats.persistentHits++;
        entry.at = at; // fresh for what is left of the stored copy's age, not a new max age
        return this.#compile(cached, key);
      }
      this.#stats.expired++;
      await cache.delete(key);
    }
    if (typeof this.#fetch !== 'function') throw new ChorusError('wasm_fetch_failed', 'no fetch implementation; pass options.fetch');
    let response;
    try {
      response = await this.#fetch(key);
    } catch (error) {
      throw new ChorusError('wasm_fetch_failed', `GET ${key}: ${error?.message ?? error}`);
    }
    if (!response.ok) throw new ChorusError('wasm_fetch_failed', `GET ${key}: HTTP ${response.status}`);
    this.#stats.fetched++;
    const copy = cache && response.clone();
    const module = await this.#compile(response, key);
    if (cache) await this.#store(cache, key, copy); // only bytes that compiled are kept
    return module;
  }

  /** Keeps the bytes with the time they were fetched; a full or refused cache is no failure. */
  async #store(cache, key, response) {
    try {
      const headers = { 'content-type': response.headers.get('content-type') ?? 'application/wasm', [CACHED_AT]: String(this.#now()) };
      await cache.put(key, new Response(await response.arrayBuffer(), { headers }));
    } catch {
      this.#stats.cacheWriteErrors++;
    }
  }

  async #compile(response, key) {
    this.#stats.compiled++;
    // compileStreaming refuses any other content type, so anything else is compiled whole.
    const streaming = typeof WebAssembly.compileStreaming === 'function'
      && /^application\/wasm\s*(;|$)/i.test(response.headers.get('content-type') ?? '');
    try {
      if (streaming) {
        this.#stats.compiledStreaming++;
        return await WebAssembly.compileStreaming(response);
      }
      return await WebAssembly.compile(await response.arrayBuffer());
    } catch (error) {
      throw new ChorusError('wasm_compile_failed', `${key}: ${error?.message ?? error}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Instances and calls

/**
 * Instantiates `module` with `imports`. `memory: {initial, maximum, shared}` (in 64 KiB pages)
 * creates the memory the module imports; a module that imports none is refused.
 */
export async function instantiateModule(module, { imports = {}, memory } = {}) {
  const importObject = { ...imports };
  let created = null;
  if (memory) {
    const wanted = WebAssembly.Module.imports(module).find((entry) => entry.kind === 'memory');
    if (!wanted) throw new ChorusError('wasm_no_memory_import', 'memory options need a module that imports its memory');
    const descriptor = { initial: memory.initial ?? 1, shared: memory.shared ?? false };
    if (memory.maximum !== undefined) descriptor.maximum = memory.maximum;
    try {
      created = new WebAssembly.Memory(descriptor);
    } catch (error) {
      throw new ChorusError('wasm_instantiate_failed', `memory ${JSON.stringify(memory)}: ${error.message}`);
    }
    importObject[wanted.module] = { ...importObject[wanted.module], [wanted.name]: created };
  }
  let instance;
  try {
    instance = await WebAssembly.instantiate(module, importObject);
  } catch (error) {
    throw new ChorusError('wasm_instantiate_failed', error?.message ?? String(error));
  }
  const { exports } = instance;
  return {
    instance,
    exports,
    memory: exports.memory instanceof WebAssembly.Memory ? exports.memory : created,
    call: (name, options) => callExport(exports, name, options),
  };
}

/**
 * Calls export `name`. With `args` only, it is a plain call: {value}. With `input` (bytes, or a
 * string as UTF-8) it is a bytes call: the input goes where `alloc(len)` says and the export is
 * called as `name(ptr, len, ...args)`; with `output: true` its result is the length of the
 * output it wrote from `ptr` ({value, output: ArrayBuffer}), negative for bad input.
 */
export function callExport(exports, name, { args = [], input, output = false } = {}) {
  const fn = exports[name];
  if (typeof fn !== 'function') throw new ChorusError('wasm_no_export', `the module has no function export '${name}'`);
  if (input === undefined) return { value: fn(...args) };
  if (!(exports.memory instanceof WebAssembly.Memory) || typeof exports.alloc !== 'function') {
    throw new ChorusError('wasm_abi', 'a bytes call needs a module that exports memory and alloc');
  }
  const [ptr, length] = writeInput(exports, input);
  const value = fn(ptr, length, ...args);
  if (!output) return { value };
  if (value < 0) throw new ChorusError('wasm_kernel_error', `${name} refused its input (${value})`);
  return { value, output: exports.memory.buffer.slice(ptr, ptr + value) };
}

/** Writes the input where `alloc` says: [ptr, length]. A string is encoded straight into memory. */
function writeInput(exports, input) {
  const place = (length) => {
    const ptr = exports.alloc(length);
    if (ptr < 0) throw new ChorusError('wasm_kernel_error', `alloc(${length}) failed`);
    return [ptr, new Uint8Array(exports.memory.buffer, ptr, length)];
  };
  if (typeof input === 'string') {
    // One byte per character first (ASCII, the common case); three if that did not hold it all.
    let [ptr, area] = place(input.length);
    let { read, written } = utf8.encodeInto(input, area);
    if (read < input.length) {
      [ptr, area] = place(input.length * 3);
      ({ written } = utf8.encodeInto(input, area));
    }
    return [ptr, written];
  }
  let bytes;
  if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  else if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  else throw new TypeError('input must be a string, an ArrayBuffer or a typed array');
  const [ptr, area] = place(bytes.length);
  area.set(bytes);
  return [ptr, bytes.length];
}

// ---------------------------------------------------------------------------------------------
// The worker pool

const moduleIds = new WeakMap(); // WebAssembly.Module → the id workers know it by
let nextModuleId = 0;
const pools = new Set();
const retiredPoolTotals = { tasksRun: 0, tasksFailed: 0, taskMs: 0 };

/** A browser module worker, or a worker_threads one in Node (both speak postMessage). */
async function createDefaultWorker(url) {
  if (typeof globalThis.Worker === 'function') {
    // A worker's script must be same-origin. When the page imported this module from its hub,
    // a same-origin blob: script imports the worker from there (under CORS, as this module was).
    // The blob: URL is not revoked: the worker may not have read it yet.
    const crossOrigin = globalThis.location && new URL(url).origin !== globalThis.location.origin;
    const script = crossOrigin ? URL.createObjectURL(new Blob([`import ${JSON.stringify(url)};`], { type: 'text/javascript' })) : url;
    return new Worker(script, { type: 'module' });
  }
  const { Worker: NodeWorker } = await import('node:worker_threads');
  return new NodeWorker(new URL(url));
}

function listen(worker, onMessage, onError) {
  if (typeof worker.on === 'function') {
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('messageerror', onError);
  } else {
    worker.onmessage = (event) => onMessage(event.data);
    worker.onerror = (event) => {
      event.preventDefault?.(); // handled here: not an uncaught page error
      onError(new Error(event.message || 'the worker failed'));
    };
    worker.onmessageerror = () => onError(new Error('a message could not be deserialised'));
  }
}

/**
 * Runs exports on up to `size` workers (default 4); tasks beyond that wait in a queue, in order.
 * Workers start on first need. A worker that fails is replaced; its task rejects.
 */
export class WorkerPool {
  #size;
  #workerURL;
  #importsURL;
  #memory;
  #loader;
  #createWorker;
  #workers = []; // { worker: Promise<Worker>, job (the task it runs, or null), modules: Set<id>, index }
  #queue = [];
  #nextTaskId = 0;
  #nextWorkerIndex = 0; // a replaced worker's successor gets a new index
  #terminated = false;
  #stats = { tasksRun: 0, tasksFailed: 0, taskMs: 0 };

  constructor({ size = 4, workerURL = new URL('./chorus-wasm-worker.js', import.meta.url), importsURL, memory, loader, createWorker = createDefaultWorker } = {}) {
    if (!Number.isInteger(size) || size < 1) throw new TypeError(`pool size must be a positive integer, not ${size}`);
    this.#size = size;
    this.#workerURL = String(workerURL);
    // Workers resolve it from their own URL: make it absolute against the page's.
    this.#importsURL = importsURL === undefined ? undefined : new URL(importsURL, globalThis.location?.href).href;
    this.#memory = memory;
    this.#loader = loader;
    this.#createWorker = createWorker;
    pools.add(this);
  }

  get size() {
    return this.#size;
  }

  /** {tasksRun, tasksFailed, averageTaskMs, queued, workers}; task time is the worker's own. */
  get stats() {
    const { tasksRun, tasksFailed, taskMs } = this.#stats;
    return { tasksRun, tasksFailed, averageTaskMs: averageOf(taskMs, tasksRun + tasksFailed), queued: this.#queue.length, workers: this.#workers.length };
  }

  /**
   * Runs export `export` of `module` (a WebAssembly.Module, or a URL the loader loads) in a
   * worker, as `callExport` does; `transfer` lists buffers to move rather than copy (they are
   * unusable here afterwards). Resolves with {value, output, started, ended, worker}: start and
   * end are the worker's clock in ms since the epoch.
   */
  run(task) {
    if (this.#terminated) return Promise.reject(new ChorusError('pool_terminated', 'the worker pool was terminated'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ task, resolve, reject });
      this.#pump();
    });
  }

  /** Stops every worker; running and queued tasks reject with `pool_terminated`. */
  terminate() {
    if (this.#terminated) return;
    this.#terminated = true;
    const error = new ChorusError('pool_terminated', 'the worker pool was terminated');
    for (const entry of this.#queue.splice(0)) entry.reject(error);
    for (const slot of this.#workers.splice(0)) {
      slot.job?.reject(error);
      slot.job = null; // a dispatch still loading its module sees it is over
      slot.worker.then((worker) => worker.terminate(), () => {});
    }
    pools.delete(this);
    for (const key of Object.keys(retiredPoolTotals)) retiredPoolTotals[key] += this.#stats[key];
  }

  #pump() {
    while (this.#queue.length > 0) {
      let slot = this.#workers.find((candidate) => !candidate.job);
      if (!slot && this.#workers.length < this.#size) slot = this.#spawn();
      if (!slot) return;
      slot.job = this.#queue.shift();
      this.#dispatch(slot, slot.job);
    }
  }

  #spawn() {
    const slot = { worker: null, job: null, modules: new Set(), index: this.#nextWorkerIndex++ };
    slot.worker = Promise.resolve(this.#createWorker(this.#workerURL)).then((worker) => {
      listen(worker, (reply) => this.#replied(slot, reply), (error) => this.#failed(slot, error));
      return worker;
    });
    slot.worker.catch((error) => this.#failed(slot, error));
    this.#workers.push(slot);
    return slot;
  }

  async #dispatch(slot, job) {
    const { task } = job;
    try {
      const module = typeof task.module === 'string' || task.module instanceof URL
        ? await this.#moduleLoader().load(task.module)
        : task.module;
      if (!(module instanceof WebAssembly.Module)) throw new TypeError('task.module must be a WebAssembly.Module or a URL');
      let id = moduleIds.get(module);
      if (id === undefined) moduleIds.set(module, (id = ++nextModuleId));
      const message = { id: ++this.#nextTaskId, moduleId: id, export: task.export, args: task.args, input: task.input, output: task.output };
      // A worker gets each module (and how to instantiate it) once, and keeps the instance.
      if (!slot.modules.has(id)) message.setup = { module, importsURL: this.#importsURL, memory: this.#memory };
      job.id = message.id;
      const worker = await slot.worker;
      if (slot.job !== job) return; // terminated, or the worker failed, meanwhile
      worker.postMessage(message, task.transfer ?? []);
      slot.modules.add(id);
    } catch (error) {
      if (slot.job !== job) return;
      slot.job = null;
      this.#stats.tasksFailed++;
      job.reject(error instanceof ChorusError ? error : new ChorusError('wasm_task_failed', error?.message ?? String(error)));
      this.#pump();
    }
  }

  #moduleLoader() {
    this.#loader ??= defaultLoader();
    return this.#loader;
  }

  #replied(slot, reply) {
    const job = slot.job;
    if (!job || reply.id !== job.id) return;
    slot.job = null;
    this.#stats.taskMs += reply.ended - reply.started;
    if (reply.ok) {
      this.#stats.tasksRun++;
      job.resolve({ value: reply.value, output: reply.output, started: reply.started, ended: reply.ended, worker: slot.index });
    } else {
      this.#stats.tasksFailed++;
      const error = new ChorusError(reply.error.code ?? 'wasm_task_failed', reply.error.message);
      error.remoteName = reply.error.name; // e.g. RuntimeError for a trap
      job.reject(error);
    }
    this.#pump();
  }

  /** The worker itself failed (script error, crash): its task rejects; a new one replaces it. */
  #failed(slot, error) {
    const index = this.#workers.indexOf(slot);
    if (index === -1) return;
    this.#workers.splice(index, 1);
    slot.worker.then((worker) => worker.terminate(), () => {});
    if (slot.job) {
      this.#stats.tasksFailed++;
      slot.job.reject(new ChorusError('wasm_worker_failed', error?.message ?? String(error)));
    }
    this.#pump();
  }
}

function averageOf(total, count) {
  return count > 0 ? total / count : null;
}

/**
 * What a worker does with one task message (chorus-wasm-worker.js): instantiates the module the
 * first time (with the pool's imports module and memory options), then calls the export.
 * Replies with the outcome and the worker-side start and end times.
 */
export async function runTask(message, instances) {
  const started = sharedNow();
  try {
    if (message.setup) instances.set(message.moduleId, instantiateFromSetup(message.setup));
    const instance = instances.get(message.moduleId);
    if (!instance) throw new ChorusError('wasm_task_failed', `module ${message.moduleId} was never sent to this worker`);
    const { value, output } = callExport((await instance).exports, message.export, message);
    return { reply: { id: message.id, ok: true, value, output, started, ended: sharedNow() }, transfer: output ? [output] : [] };
  } catch (error) {
    const reply = { id: message.id, ok: false, error: { name: error?.name ?? 'Error', code: error?.code, message: error?.message ?? String(error) }, started, ended: sharedNow() };
    return { reply, transfer: [] };
  }
}

async function instantiateFromSetup({ module, importsURL, memory }) {
  let imports = {};
  if (importsURL) {
    const loaded = (await import(importsURL)).default;
    imports = typeof loaded === 'function' ? await loaded(module) : loaded ?? {};
  }
  return instantiateModule(module, { imports, memory });
}

// ---------------------------------------------------------------------------------------------
// Feature detection

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1

/**
 * One tiny module per feature: it validates only where the engine has the feature. Each is its
 * WAT source and the bytes wat2wasm makes of it (after the 8-byte header);
 * clients/js/test/wasm.test.mjs checks that they still agree.
 */
export const FEATURE_TESTS = {
  // A function returning a v128 constant.
  simd: {
    wat: '(module (func (result v128) v128.const i32x4 0 0 0 0))',
    bytes: [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b],
  },
  // A shared memory and an atomic load from it.
  threads: {
    wat: '(module (memory 1 1 shared) (func (result i32) i32.const 0 i32.atomic.load))',
    bytes: [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x05, 0x04, 0x01, 0x03, 0x01, 0x01,
      0x0a, 0x0a, 0x01, 0x08, 0x00, 0x41, 0x00, 0xfe, 0x10, 0x02, 0x00, 0x0b],
  },
  // memory.copy of zero bytes.
  bulkMemory: {
    wat: '(module (memory 1) (func i32.const 0 i32.const 0 i32.const 0 memory.copy))',
    bytes: [0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01,
      0x0a, 0x0e, 0x01, 0x0c, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0a, 0x00, 0x00, 0x0b],
  },
  // A function taking an externref.
  referenceTypes: {
    wat: '(module (func (param externref)))',
    bytes: [0x01, 0x05, 0x01, 0x60, 0x01, 0x6f, 0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b],
  },
  // A function that tail-calls itself (return_call).
  tailCalls: {
    wat: '(module (func return_call 0))',
    bytes: [0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0x12, 0x00, 0x0b],
  },
};

/** The whole module of a feature test: the header, then its sections. */
export function featureModule(name) {
  return new Uint8Array([...HEADER, ...FEATURE_TESTS[name].bytes]);
}

/**
 * What this engine supports (`environment`: the globals to look at, for tests). `threads` needs
 * more than shared memory validating: the page must have SharedArrayBuffer, which browsers give
 * only to cross-origin isolated pages.
 */
export function detectFeatures(environment = globalThis) {
  const { WebAssembly: wasm, SharedArrayBuffer: shared, crossOriginIsolated } = environment;
  const valid = (name) => {
    try {
      return wasm.validate(featureModule(name));
    } catch {
      return false;
    }
  };
  const present = typeof wasm?.validate === 'function';
  const sharedArrayBuffer = typeof shared === 'function';
  return {
    webAssembly: present,
    streaming: typeof wasm?.compileStreaming === 'function',
    simd: present && valid('simd'),
    threads: present && valid('threads') && sharedArrayBuffer,
    sharedArrayBuffer,
    crossOriginIsolated: crossOriginIsolated ?? null,
    bulkMemory: present && valid('bulkMemory'),
    referenceTypes: present && valid('referenceTypes'),
    tailCalls: present && valid('tailCalls'),
  };
}

// ---------------------------------------------------------------------------------------------
// Benchmarking

/** {median, mean, min, max} of `samples` (ms). */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { median, mean, min: sorted[0], max: sorted[sorted.length - 1] };
}

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Times `wasm` (and `js`, the same work in JavaScript) over `iterations` runs after `warmup`
 * untimed ones, each awaited. `speedup` is the JavaScript median over the wasm median (above 1:
 * wasm is faster). Between runs, untimed, it yields to the event loop, so that the page stays
 * responsive. Runs should take well over the timer's resolution (0.1 ms in a page that is not
 * cross-origin isolated): give them enough work.
 */
export async function benchmark({ wasm, js, warmup = 5, iterations = 30, now = monotonicNow }) {
  if (!(iterations >= 1)) throw new TypeError('iterations must be at least 1');
  const measure = async (fn) => {
    for (let i = 0; i < warmup; i++) {
      await fn();
      await nextTask();
    }
    const samples = [];
    for (let i = 0; i < iterations; i++) {
      const started = now();
      await fn();
      samples.push(now() - started);
      await nextTask();
    }
    return summarize(samples);
  };
  const wasmTimes = await measure(wasm);
  const jsTimes = js ? await measure(js) : null;
  return { warmup, iterations, wasm: wasmTimes, js: jsTimes, speedup: jsTimes ? jsTimes.median / wasmTimes.median : null };
}

// ---------------------------------------------------------------------------------------------
// Shared instances, stats, and decoding for channels

let sharedLoader = null;
let sharedPool = null;

/** The page's loader (what `load` and pools use unless given their own). */
export function defaultLoader() {
  sharedLoader ??= new WasmLoader();
  return sharedLoader;
}

/** The page's pool of 4 workers, started on first use (what channel decoders use by default). */
export function defaultPool() {
  sharedPool ??= new WorkerPool();
  return sharedPool;
}

/** Loads `url` with the page's loader (see WasmLoader.load). */
export function load(url, options) {
  return defaultLoader().load(url, options);
}

/** Instantiates a module, or the module at a URL (loaded with the page's loader). */
export async function instantiate(source, options) {
  const module = source instanceof WebAssembly.Module ? source : await load(source);
  return instantiateModule(module, options);
}

/** The page's loader counters and the task counters of every pool it made, together. */
export function stats() {
  const totals = { ...retiredPoolTotals };
  for (const pool of pools) {
    const { tasksRun, tasksFailed, averageTaskMs } = pool.stats;
    totals.tasksRun += tasksRun;
    totals.tasksFailed += tasksFailed;
    totals.taskMs += (averageTaskMs ?? 0) * (tasksRun + tasksFailed);
  }
  return {
    ...defaultLoader().stats,
    tasksRun: totals.tasksRun,
    tasksFailed: totals.tasksFailed,
    averageTaskMs: averageOf(totals.taskMs, totals.tasksRun + totals.tasksFailed),
  };
}

const DECODED_AS = ['json', 'text', 'bytes', 'value'];

/**
 * A channel decoder (chorus.js: `client.channel(topic, { decode: { module, export } })`): each
 * message's data (a string as UTF-8, anything else as its JSON) goes through a bytes call of
 * `export` in `pool` (default: the page's). `as` says what the channel gets: the output parsed
 * as JSON (default), as text, as bytes (Uint8Array), or the export's return `value`.
 */
export function wasmDecoder({ module, export: name, as = 'json', pool }) {
  if (!DECODED_AS.includes(as)) throw new TypeError(`decode.as must be one of ${DECODED_AS.join(', ')}`);
  if (typeof name !== 'string') throw new TypeError('decode.export must name the export to call');
  return async (data) => {
    const input = utf8.encode(typeof data === 'string' ? data : JSON.stringify(data));
    const result = await (pool ?? defaultPool()).run({ module, export: name, input, output: as !== 'value', transfer: [input.buffer] });
    if (as === 'value') return result.value;
    if (as === 'bytes') return new Uint8Array(result.output);
    const text = new TextDecoder().decode(result.output);
    return as === 'text' ? text : JSON.parse(text);
  };
}
