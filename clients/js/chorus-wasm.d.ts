// Type declarations for chorus-wasm.js, the WebAssembly loader (docs/wasm.md, "Browser loader").

export declare const CACHE_NAME: string;
/** One day, in ms. */
export declare const DEFAULT_MAX_AGE: number;

/** Whether an entry stored at `storedAt` is still fresh at `now` (all in ms). */
export declare function cacheDecision(storedAt: number, now: number, maxAge: number): 'hit' | 'expired';

export interface LoaderOptions {
  /** Injectable for tests; default the globals. */
  fetch?: (url: string) => Promise<Response>;
  /** The Cache API; without it modules are kept in memory only. */
  caches?: CacheStorage;
  cacheName?: string;
  /** How long a cached module stays fresh, in ms (default one day). */
  maxAge?: number;
  now?: () => number;
}

export interface LoadOptions {
  maxAge?: number;
  /** Keep the module in the Cache API across reloads (default true). */
  persist?: boolean;
}

export interface LoaderStats {
  /** load() calls that resolved. */
  modulesLoaded: number;
  /** Compilations, and how many of them streamed (content type application/wasm). */
  compiled: number;
  compiledStreaming: number;
  /** memoryHits + persistentHits. */
  cacheHits: number;
  memoryHits: number;
  /** Modules compiled from the Cache API's copy (e.g. after a reload). */
  persistentHits: number;
  /** Cache API entries found older than their max age (and fetched again). */
  expired: number;
  fetched: number;
  cacheWriteErrors: number;
}

export declare class WasmLoader {
  constructor(options?: LoaderOptions);
  readonly stats: LoaderStats;
  load(url: string | URL, options?: LoadOptions): Promise<WebAssembly.Module>;
  clear(): Promise<void>;
}

/** Memory the module imports, in 64 KiB pages. */
export interface MemoryOptions {
  initial?: number;
  maximum?: number;
  /** Needs `maximum` and SharedArrayBuffer (a cross-origin isolated page). */
  shared?: boolean;
}

export interface InstantiateOptions {
  imports?: WebAssembly.Imports;
  memory?: MemoryOptions;
}

export interface CallOptions {
  /** Plain arguments; after `ptr, len` in a bytes call. */
  args?: Array<number | bigint>;
  /** Makes it a bytes call: written where `alloc(len)` says, then `export(ptr, len, ...args)`. */
  input?: string | ArrayBuffer | ArrayBufferView;
  /** The result is the length of output written from `ptr` (negative: bad input). */
  output?: boolean;
}

export interface CallResult {
  value: any;
  /** With `output: true`: a copy of the output bytes. */
  output?: ArrayBuffer;
}

export interface WasmInstance {
  instance: WebAssembly.Instance;
  exports: WebAssembly.Exports;
  /** The exported memory, else the one created from `memory` options, else null. */
  memory: WebAssembly.Memory | null;
  call(name: string, options?: CallOptions): CallResult;
}

export declare function instantiateModule(module: WebAssembly.Module, options?: InstantiateOptions): Promise<WasmInstance>;
export declare function instantiate(source: WebAssembly.Module | string | URL, options?: InstantiateOptions): Promise<WasmInstance>;
export declare function callExport(exports: WebAssembly.Exports, name: string, options?: CallOptions): CallResult;
export declare function load(url: string | URL, options?: LoadOptions): Promise<WebAssembly.Module>;
export declare function defaultLoader(): WasmLoader;

export interface WorkerLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  terminate(): unknown;
}

export interface PoolOptions {
  /** How many workers at most (default 4). */
  size?: number;
  /** Default: chorus-wasm-worker.js beside chorus-wasm.js. */
  workerURL?: string | URL;
  /** An ES module whose default export is the imports object, or a function of the module returning it. */
  importsURL?: string | URL;
  memory?: MemoryOptions;
  /** Loads tasks' module URLs (default: the page's loader). */
  loader?: WasmLoader;
  createWorker?: (url: string) => WorkerLike | Promise<WorkerLike>;
}

export interface Task extends CallOptions {
  module: WebAssembly.Module | string | URL;
  export: string;
  /** Buffers moved to the worker instead of copied. */
  transfer?: Transferable[];
}

export interface TaskResult extends CallResult {
  /** The worker's clock, ms since the epoch. */
  started: number;
  ended: number;
  /** Which worker ran it. */
  worker: number;
}

export interface PoolStats {
  tasksRun: number;
  tasksFailed: number;
  /** Worker-side time per task, ms; null before the first. */
  averageTaskMs: number | null;
  queued: number;
  workers: number;
}

export declare class WorkerPool {
  constructor(options?: PoolOptions);
  readonly size: number;
  readonly stats: PoolStats;
  run(task: Task): Promise<TaskResult>;
  terminate(): void;
}

export declare function defaultPool(): WorkerPool;

export interface Features {
  webAssembly: boolean;
  streaming: boolean;
  simd: boolean;
  /** Shared memory and atomics validate, and SharedArrayBuffer exists. */
  threads: boolean;
  sharedArrayBuffer: boolean;
  /** null where the notion does not exist (Node). */
  crossOriginIsolated: boolean | null;
  bulkMemory: boolean;
  referenceTypes: boolean;
  tailCalls: boolean;
}

export type FeatureName = 'simd' | 'threads' | 'bulkMemory' | 'referenceTypes' | 'tailCalls';
export declare const FEATURE_TESTS: Record<FeatureName, { wat: string; bytes: number[] }>;
export declare function featureModule(name: FeatureName): Uint8Array;
export declare function detectFeatures(environment?: {
  WebAssembly?: typeof WebAssembly;
  SharedArrayBuffer?: unknown;
  crossOriginIsolated?: boolean;
}): Features;

export interface Timing {
  median: number;
  mean: number;
  min: number;
  max: number;
}

export declare function summarize(samples: number[]): Timing;

export interface BenchmarkOptions {
  wasm: () => unknown;
  js?: () => unknown;
  warmup?: number;
  iterations?: number;
  now?: () => number;
}

export interface BenchmarkResult {
  warmup: number;
  iterations: number;
  wasm: Timing;
  js: Timing | null;
  /** js median / wasm median; above 1: wasm is faster. */
  speedup: number | null;
}

export declare function benchmark(options: BenchmarkOptions): Promise<BenchmarkResult>;

export interface Stats extends LoaderStats {
  tasksRun: number;
  tasksFailed: number;
  averageTaskMs: number | null;
}

export declare function stats(): Stats;

export interface WasmDecodeOptions {
  module: WebAssembly.Module | string | URL;
  export: string;
  /** What the channel gets (default 'json'). */
  as?: 'json' | 'text' | 'bytes' | 'value';
  /** Default: the page's pool. */
  pool?: WorkerPool;
}

export declare function wasmDecoder(options: WasmDecodeOptions): (data: unknown) => Promise<unknown>;

/** @internal The worker's side of a task. */
export declare function runTask(message: unknown, instances: Map<number, Promise<WasmInstance>>): Promise<{ reply: unknown; transfer: Transferable[] }>;
