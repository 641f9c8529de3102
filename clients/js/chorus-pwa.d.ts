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

export type PWAEvents = {
  registered: (registration: ServiceWorkerRegistration) => void;
  updateAvailable: (update: AvailableUpdate) => void;
  updated: () => void;
  online: () => void;
  offline: () => void;
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
}

export declare function registerServiceWorker(options?: ChorusPWAOptions): ChorusPWA;
