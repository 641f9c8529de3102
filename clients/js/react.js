// React bindings for the Chorus client: hooks and two small components.
//
// React 18 is a peer: this module imports 'react' (map it with an import map or a bundler) and
// uses no JSX, so it runs as it is.
import React from 'react';
import { ChorusClient, getClient } from './chorus.js';

const h = React.createElement;

/** Colour and label per connection state. */
export const STATUS_APPEARANCE = Object.freeze({
  connecting: { color: '#ca8a04', label: 'Connecting…' },
  connected: { color: '#16a34a', label: 'Connected' },
  reconnecting: { color: '#ea580c', label: 'Reconnecting…' },
  disconnected: { color: '#6b7280', label: 'Disconnected' },
  error: { color: '#dc2626', label: 'Connection error' },
});

/** The client's state, re-rendering on every change ('disconnected' without a client). */
export function useConnectionStatus(client) {
  const subscribe = React.useCallback(
    (onChange) => {
      if (!client) return () => {};
      client.on('status', onChange);
      return () => client.off('status', onChange);
    },
    [client],
  );
  const read = () => (client ? client.state : 'disconnected');
  return React.useSyncExternalStore(subscribe, read, read);
}

/**
 * The page's client for `url` and its state: `{client, status, isConnected, send}`.
 * Clients are shared per URL (see getClient) and outlive the component; with
 * `shared: false` the component owns its client: it connects on mount and closes on unmount.
 */
export function useChorus(url, options = {}) {
  const shared = options.shared !== false;
  // Options are read when the client is made, like getClient does; a new URL makes a new one.
  const client = React.useMemo(
    () => (shared ? getClient(url, options) : new ChorusClient(url, { ...options, autoConnect: false })),
    [url, shared],
  );
  React.useEffect(() => {
    if (shared) return undefined;
    client.connect();
    return () => client.close();
  }, [client, shared]);
  const status = useConnectionStatus(client);
  const send = React.useCallback((frame) => client.send(frame), [client]);
  return { client, status, isConnected: status === 'connected', send };
}

/** Alias of useChorus, for code written against the usual WebSocket hook name. */
export const useWebSocket = useChorus;

// Components using the same channel share one subscription: the last to unmount ends it.
const channelUsers = new WeakMap();

function retain(channel) {
  const users = channelUsers.get(channel) ?? 0;
  channelUsers.set(channel, users + 1);
  // Failures reach the channel's `error` listeners (and eventsMap.error); nothing to add here.
  if (users === 0) channel.subscribe().catch(() => {});
}

function release(channel) {
  const users = (channelUsers.get(channel) ?? 1) - 1;
  channelUsers.set(channel, users);
  if (users === 0) channel.unsubscribe().catch(() => {});
}

/** Channel events that eventsMap may name besides message event names. */
const LIFECYCLE_EVENTS = ['subscribed', 'recovery_failed', 'error'];

/**
 * Subscribes `client` to `name` while the component is mounted. `events` maps message event
 * names (and `subscribed`, `recovery_failed`, `error`) to handlers; it may change on every
 * render without resubscribing. Returns `{publish, lastMessage}`.
 */
export function useRealtimeChannel(client, name, events) {
  const [lastMessage, setLastMessage] = React.useState(null);
  const handlers = React.useRef(events);
  React.useEffect(() => {
    handlers.current = events;
  });

  React.useEffect(() => {
    if (!client || !name) return undefined;
    const channel = client.channel(name);
    const onMessage = (message) => {
      setLastMessage(message);
      handlers.current?.[message.event]?.(message.data, message);
    };
    const forwards = LIFECYCLE_EVENTS.map((event) => [event, (...args) => handlers.current?.[event]?.(...args)]);
    channel.on('message', onMessage);
    for (const [event, forward] of forwards) channel.on(event, forward);
    retain(channel);
    return () => {
      channel.off('message', onMessage);
      for (const [event, forward] of forwards) channel.off(event, forward);
      release(channel);
    };
  }, [client, name]);

  const publish = React.useCallback(
    (event, data, options) => {
      if (!client) return Promise.reject(new Error('useRealtimeChannel: no client'));
      return client.channel(name).publish(event, data, options);
    },
    [client, name],
  );
  return { publish, lastMessage };
}

/** A coloured dot and a label for the connection state (pass `client` or `status`). */
export function ConnectionStatus({ client, status, labels, colors, className, style }) {
  const live = useConnectionStatus(client);
  const current = status ?? live;
  const appearance = STATUS_APPEARANCE[current] ?? STATUS_APPEARANCE.disconnected;
  const color = colors?.[current] ?? appearance.color;
  return h(
    'span',
    {
      className,
      role: 'status',
      'aria-live': 'polite',
      'data-status': current,
      style: { display: 'inline-flex', alignItems: 'center', gap: '0.4em', ...style },
    },
    h('span', {
      'aria-hidden': true,
      style: { width: '0.6em', height: '0.6em', borderRadius: '50%', background: color },
    }),
    labels?.[current] ?? appearance.label,
  );
}

/** A "LIVE" badge while connected, greyed out otherwise (pass `client` or `status`). */
export function RealtimeIndicator({ client, status, label = 'Live', offlineLabel = 'Offline', className, style }) {
  const live = useConnectionStatus(client);
  const current = status ?? live;
  const isLive = current === 'connected';
  return h(
    'span',
    {
      className,
      role: 'status',
      title: STATUS_APPEARANCE[current]?.label ?? current,
      'data-live': isLive,
      style: {
        display: 'inline-flex',
        alignItems: 'center',
        gap: '0.35em',
        padding: '0.1em 0.6em',
        borderRadius: '999px',
        fontSize: '0.75em',
        fontWeight: 600,
        letterSpacing: '0.05em',
        textTransform: 'uppercase',
        color: '#fff',
        background: isLive ? '#dc2626' : '#9ca3af',
        ...style,
      },
    },
    h('span', {
      'aria-hidden': true,
      style: { width: '0.5em', height: '0.5em', borderRadius: '50%', background: isLive ? '#fff' : '#e5e7eb' },
    }),
    isLive ? label : offlineLabel,
  );
}
