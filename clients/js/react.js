// React bindings for the Chorus client: hooks and two small components.
//
// React 18 is a peer: this module imports 'react' (map it with an import map or a bundler) and
// uses no JSX, so it runs as it is.
import React from 'react';
import { ChorusClient, colourOf, getClient, initialsOf, PRESENCE_STATUSES } from './chorus.js';

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

// Components using the same channel (or collection) share one subscription: the last to
// unmount ends it.
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

// ---------------------------------------------------------------------------------------------
// Presence

/** Colour and label per presence status (meta.status). */
export const PRESENCE_APPEARANCE = Object.freeze({
  online: { color: '#16a34a', label: 'Online' },
  away: { color: '#ca8a04', label: 'Away' },
  busy: { color: '#dc2626', label: 'Busy' },
});

// Components presenting the same channel share one membership: the last to unmount leaves.
const presenceUsers = new WeakMap();

/**
 * Joins `channel`'s presence as `user` (the meta: name, colour, status…) while the component
 * is mounted, and follows who is there: `{users, onlineCount, updateStatus, presence}`.
 * `channel` is a Channel, or a topic name with `client`. `users` are grouped by user (each with
 * its connections); `onlineCount` counts the users present, whatever their status (the hub's
 * `users` count while a large room's list is still coming in pages). A new `user` (compared by
 * value) is sent as an update, not a rejoin. `limit` (0…1000): join with that many members
 * listed, the rest in pages after (Presence#join).
 */
export function useRealtimePresence({ channel, client, user, limit } = {}) {
  const resolved = typeof channel === 'string' ? client?.channel(channel) : channel;
  const presence = resolved?.presence ?? null;
  const [users, setUsers] = React.useState(() => (presence ? presence.members() : []));
  const meta = JSON.stringify(user ?? {});

  React.useEffect(() => {
    if (!presence) return undefined;
    const onSync = (now) => setUsers(now);
    presence.on('sync', onSync);
    setUsers(presence.members());
    const joiners = presenceUsers.get(presence) ?? 0;
    presenceUsers.set(presence, joiners + 1);
    // Refusals reach the presence's `error` listeners; nothing to add here.
    if (joiners === 0 || !presence.joined) presence.join(JSON.parse(meta), limit === undefined ? {} : { limit }).catch(() => {});
    return () => {
      presence.off('sync', onSync);
      const left = presenceUsers.get(presence) - 1;
      presenceUsers.set(presence, left);
      if (left === 0) presence.leave().catch(() => {});
    };
  }, [presence]);

  // A changed `user` after the join: an update of the meta.
  const joinedMeta = React.useRef(meta);
  React.useEffect(() => {
    if (!presence || joinedMeta.current === meta) return;
    joinedMeta.current = meta;
    if (presence.joined) presence.update(JSON.parse(meta)).catch(() => {});
  }, [presence, meta]);

  const updateStatus = React.useCallback(
    (status) => (presence ? presence.setStatus(status) : Promise.reject(new Error('useRealtimePresence: no channel'))),
    [presence],
  );
  const onlineCount = presence && !presence.complete ? presence.userCount : users.length;
  return { users, onlineCount, updateStatus, presence };
}

/**
 * Avatars of the users present (from useRealtimePresence's `users`): initials on the user's
 * colour (`meta.colour`, else one derived from the user), a status dot, and "+N" past `max`.
 */
export function PresenceAvatars({ users = [], max = 8, size = 32, me, className, style }) {
  const shown = users.slice(0, max);
  const hidden = users.length - shown.length;
  const circle = { width: size, height: size, borderRadius: '50%', display: 'inline-flex', alignItems: 'center', justifyContent: 'center',
    color: '#fff', fontSize: Math.round(size * 0.4), fontWeight: 600, border: '2px solid #fff', position: 'relative', marginLeft: -size / 5 };
  return h(
    'div',
    { className, role: 'list', 'aria-label': `${users.length} present`, style: { display: 'inline-flex', paddingLeft: size / 5, ...style } },
    ...shown.map((entry) => {
      const name = entry.meta?.name || entry.user || 'Guest';
      const status = entry.meta?.status ?? 'online';
      const appearance = PRESENCE_APPEARANCE[status];
      return h(
        'span',
        {
          key: entry.key,
          role: 'listitem',
          title: `${name}${entry.key === me ? ' (you)' : ''} · ${appearance?.label ?? status}`,
          'data-user': entry.key,
          'data-status': status,
          style: { ...circle, background: entry.meta?.colour || colourOf(entry.key) },
        },
        initialsOf(name),
        h('span', {
          'aria-hidden': true,
          style: { position: 'absolute', right: -1, bottom: -1, width: size / 3.2, height: size / 3.2, borderRadius: '50%',
            border: '2px solid #fff', background: appearance?.color ?? '#6b7280' },
        }),
      );
    }),
    hidden > 0 ? h('span', { key: '+', role: 'listitem', title: `${hidden} more`, style: { ...circle, background: '#6b7280' } }, `+${hidden}`) : null,
  );
}

// ---------------------------------------------------------------------------------------------
// Sync collections

/** The collection a channel (or a topic name with `client`) and a resource name. */
function collectionOf(channel, client, resource) {
  const name = typeof channel === 'string' ? channel : channel?.name;
  const owner = typeof channel === 'string' ? client : channel?.client;
  if (!owner || !name) return null;
  return owner.collection(resource ? `${name}:${resource}` : name);
}

const SYNC_EVENTS = [['insert', 'onInsert'], ['update', 'onUpdate'], ['delete', 'onDelete']];

/**
 * Follows a sync collection while the component is mounted: `{data, insert, update, remove,
 * status, collection}`. The collection is `channel`'s name (a Channel, or a topic name with
 * `client`), or `<channel>:<resource>` with `resource`. `data` is the records as this client
 * sees them (its pending mutations applied), `initialData` until the hub's snapshot arrives; it
 * re-renders on every change. `onInsert`, `onUpdate`, `onDelete` hear each change from the hub
 * (they may change on every render). Components on one collection share its subscription.
 */
export function useRealtimeSync({ channel, client, resource, initialData, onInsert, onUpdate, onDelete } = {}) {
  const collection = collectionOf(channel, client, resource);
  const initial = React.useRef(initialData ?? []);
  const read = () => (collection && (collection.version !== null || collection.pending > 0) ? collection.list() : initial.current);
  const [data, setData] = React.useState(read);
  const [status, setStatus] = React.useState(() => collection?.status ?? 'idle');
  const handlers = React.useRef();
  React.useEffect(() => {
    handlers.current = { onInsert, onUpdate, onDelete };
  });

  React.useEffect(() => {
    if (!collection) return undefined;
    const onSync = () => setData(read());
    const onStatus = (now) => setStatus(now);
    const forwards = SYNC_EVENTS.map(([event, name]) => [event, (...args) => handlers.current?.[name]?.(...args)]);
    collection.on('sync', onSync);
    collection.on('status', onStatus);
    for (const [event, forward] of forwards) collection.on(event, forward);
    onSync();
    setStatus(collection.status);
    retain(collection);
    return () => {
      collection.off('sync', onSync);
      collection.off('status', onStatus);
      for (const [event, forward] of forwards) collection.off(event, forward);
      release(collection);
    };
  }, [collection]);

  const missing = () => Promise.reject(new Error('useRealtimeSync: no channel'));
  const insert = React.useCallback((value, options) => (collection ? collection.insert(value, options) : missing()), [collection]);
  const update = React.useCallback((id, value, options) => (collection ? collection.update(id, value, options) : missing()), [collection]);
  const remove = React.useCallback((id, options) => (collection ? collection.remove(id, options) : missing()), [collection]);
  return { data, insert, update, remove, status, collection };
}

/** Re-exported for status pickers and custom avatars. */
export { colourOf, initialsOf, PRESENCE_STATUSES };
