// Type declarations for react.js (React 18 hooks and components for the Chorus client).
// They need no @types/react: components return a structural stand-in for ReactElement.
import type {
  AckFrame,
  Channel,
  ChorusClient,
  ClientFrame,
  ClientOptions,
  Collection,
  CollectionStatus,
  ConnectionState,
  MutationOptions,
  MessageFrame,
  MessageListener,
  Presence,
  PresenceMeta,
  PresenceStatus,
  PresenceUser,
  PublishOptions,
  RecoveryFailure,
  ServerFrame,
  SubscribedFrame,
  SyncAckFrame,
  SyncChangeInfo,
  SyncRecord,
} from './chorus.js';

/** What a component returns; assignable to React's ReactElement. */
export interface ChorusElement {
  type: unknown;
  props: unknown;
  key: string | null;
}

export declare const STATUS_APPEARANCE: Readonly<Record<ConnectionState, { readonly color: string; readonly label: string }>>;

/** The client's state, re-rendering on change ('disconnected' without a client). */
export declare function useConnectionStatus(client: ChorusClient | null | undefined): ConnectionState;

export interface UseChorusResult {
  client: ChorusClient;
  status: ConnectionState;
  isConnected: boolean;
  /** client.send: resolves with the reply to the frame. */
  send(frame: ClientFrame): Promise<ServerFrame>;
}

export declare function useChorus(url: string, options?: ClientOptions): UseChorusResult;
export declare const useWebSocket: typeof useChorus;

/** Handlers by message event name, plus the channel's own events. */
export type ChannelHandlers = {
  [event: string]: MessageListener | undefined;
  subscribed?: (frame: SubscribedFrame) => void;
  recovery_failed?: (failure: RecoveryFailure) => void;
  error?: (error: Error) => void;
};

export interface UseRealtimeChannelResult {
  publish(event: string | undefined, data: unknown, options?: PublishOptions): Promise<AckFrame>;
  lastMessage: MessageFrame | null;
}

export declare function useRealtimeChannel(
  client: ChorusClient | null | undefined,
  name: string,
  events?: ChannelHandlers,
): UseRealtimeChannelResult;

type Labels = Partial<Record<ConnectionState, string>>;

export interface ConnectionStatusProps {
  client?: ChorusClient | null;
  /** Shown instead of the client's state. */
  status?: ConnectionState;
  labels?: Labels;
  colors?: Labels;
  className?: string;
  style?: Record<string, string | number>;
}

export declare function ConnectionStatus(props: ConnectionStatusProps): ChorusElement;

export interface RealtimeIndicatorProps {
  client?: ChorusClient | null;
  status?: ConnectionState;
  /** Text while connected (default "Live"). */
  label?: string;
  /** Text otherwise (default "Offline"). */
  offlineLabel?: string;
  className?: string;
  style?: Record<string, string | number>;
}

export declare function RealtimeIndicator(props: RealtimeIndicatorProps): ChorusElement;

// ---------------------------------------------------------------------------------------------
// Presence

export declare const PRESENCE_APPEARANCE: Readonly<Record<PresenceStatus, { readonly color: string; readonly label: string }>>;

export interface UseRealtimePresenceOptions {
  /** The channel whose presence to join, or its topic with `client`. */
  channel: Channel | string | null | undefined;
  client?: ChorusClient | null;
  /** The meta to join with (name, colour, status…); a new value (by content) is sent as an update. */
  user?: PresenceMeta;
  /** Join with this many members listed (0…1000), the rest in pages after (Presence#join). */
  limit?: number;
}

export interface UseRealtimePresenceResult {
  /** The users present, each with its connections. */
  users: PresenceUser[];
  /** How many users are present, whatever their status (the hub's count while pages load). */
  onlineCount: number;
  /** Sets this member's `meta.status`. */
  updateStatus(status: PresenceStatus | (string & {})): Promise<AckFrame | null>;
  presence: Presence | null;
}

/** Joins the channel's presence while mounted (the last component to unmount leaves). */
export declare function useRealtimePresence(options: UseRealtimePresenceOptions): UseRealtimePresenceResult;

export interface PresenceAvatarsProps {
  users: readonly PresenceUser[];
  /** Avatars shown before "+N" (default 8). */
  max?: number;
  /** Diameter in pixels (default 32). */
  size?: number;
  /** The key of this page's user: its avatar's title says "(you)". */
  me?: string;
  className?: string;
  style?: Record<string, string | number>;
}

export declare function PresenceAvatars(props: PresenceAvatarsProps): ChorusElement;
export { colourOf, initialsOf, PRESENCE_STATUSES } from './chorus.js';

// ---------------------------------------------------------------------------------------------
// Sync collections

export interface UseRealtimeSyncOptions<Data = any> {
  /** A Channel, or a topic name with `client`: the collection is its name, or `<name>:<resource>`. */
  channel: Channel | string | null | undefined;
  client?: ChorusClient | null;
  /** The collection within the channel (`channel: 'demo', resource: 'tasks'` → `demo:tasks`). */
  resource?: string;
  /** Records shown until the hub's snapshot arrives. */
  initialData?: SyncRecord<Data>[];
  onInsert?: (record: SyncRecord<Data>, change: SyncChangeInfo<Data>) => void;
  onUpdate?: (record: SyncRecord<Data>, previous: SyncRecord<Data>, change: SyncChangeInfo<Data>) => void;
  onDelete?: (previous: SyncRecord<Data>, change: SyncChangeInfo<Data>) => void;
}

export interface UseRealtimeSyncResult<Data = any> {
  /** The records, pending mutations applied (initialData before the snapshot). */
  data: SyncRecord<Data>[];
  insert(data: Data, options?: { id?: string }): Promise<SyncAckFrame>;
  update(id: string, data: Data, options?: MutationOptions): Promise<SyncAckFrame>;
  remove(id: string, options?: MutationOptions): Promise<SyncAckFrame>;
  status: CollectionStatus;
  collection: Collection<Data> | null;
}

/** Follows a sync collection while mounted (components on one collection share its subscription). */
export declare function useRealtimeSync<Data = any>(options: UseRealtimeSyncOptions<Data>): UseRealtimeSyncResult<Data>;
