// Type declarations for react.js (React 18 hooks and components for the Chorus client).
// They need no @types/react: components return a structural stand-in for ReactElement.
import type {
  AckFrame,
  ChorusClient,
  ClientFrame,
  ClientOptions,
  ConnectionState,
  MessageFrame,
  MessageListener,
  PublishOptions,
  RecoveryFailure,
  ServerFrame,
  SubscribedFrame,
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
