public import ChorusCore
public import ChorusRedis

/// The keys and channels of a cluster's presence, under the prefix of its ``RedisChannels``.
public struct RedisPresenceKeys: Sendable, Hashable {
    /// What every key starts with (`chorus`).
    public let prefix: String

    /// Keys under `channels`' prefix.
    public init(channels: RedisChannels = RedisChannels()) {
        self.prefix = channels.prefix
    }

    /// A topic's members: a hash, client → member value (``RedisPresenceWireFormat``).
    public func members(_ topic: Topic) -> String { "\(self.prefix):pm:\(topic.name)" }
    /// A topic's members in the list's order, for its pages: a sorted set of `<joined_at, 20
    /// digits>:<client>`, all of score 0 (so ordered by those bytes: oldest first, ties by client).
    public func order(_ topic: Topic) -> String { "\(self.prefix):po:\(topic.name)" }
    /// A topic's users: a hash, `u<user>` (or `a<client>`, an anonymous connection) → how many
    /// of its connections are members, for the count of users without reading the members.
    public func users(_ topic: Topic) -> String { "\(self.prefix):pu:\(topic.name)" }
    /// A node's members: a set of node entries (topic, client), for the sweep.
    public func node(_ id: String) -> String { "\(self.prefix):pn:\(id)" }
    /// The nodes that hold (or held) members: a set of ids, for the sweep.
    public var nodes: String { "\(self.prefix):pnodes" }
    /// The channel where a namespace's member changes are announced.
    public func channel(namespace: some StringProtocol) -> String { "\(self.prefix):pr:\(namespace)" }
    /// The channel a node takes the signals for its clients from.
    public func signalChannel(node: String) -> String { "\(self.prefix):sig:\(node)" }
}

/// The Lua scripts of the cluster's presence: each runs atomically in Redis, so a member limit
/// holds across nodes, a change and its announcement are one step (every node hears the
/// changes in the order they happened), and several nodes may sweep at once.
public enum RedisPresenceScripts {
    /// Lua helpers over ``RedisPresenceWireFormat``'s `<length>:<bytes>` fields.
    private static let fields = """
        local function field(value) value = tostring(value) return #value .. ':' .. value end
        local function skip(text, count)
          local position = 1
          for _ = 1, count do
            local colon = string.find(text, ':', position, true)
            position = colon + 1 + tonumber(string.sub(text, position, colon - 1))
          end
          return position
        end
        local function first(text)
          local colon = string.find(text, ':', 1, true)
          return string.sub(text, colon + 1, colon + tonumber(string.sub(text, 1, colon - 1)))
        end
        local function nth(text, n) return first(string.sub(text, skip(text, n - 1))) end
        local function orderkey(joined, client) return string.rep('0', 20 - #joined) .. joined .. ':' .. client end
        local function userkey(value)
          if nth(value, 3) == 'u' then return 'u' .. nth(value, 4) end
          return 'a' .. nth(value, 2)
        end
        local function addorder(order, users, value)
          redis.call('ZADD', order, 0, orderkey(nth(value, 5), nth(value, 2)))
          redis.call('HINCRBY', users, userkey(value), 1)
        end
        local function removeorder(order, users, value)
          redis.call('ZREM', order, orderkey(nth(value, 5), nth(value, 2)))
          local user = userkey(value)
          if redis.call('HINCRBY', users, user, -1) <= 0 then redis.call('HDEL', users, user) end
        end
        """

    /// What one member does, by `ARGV[1]`. Join, update, leave and signal are one script so that,
    /// after Redis lost its script cache, the `EVALSHA`s refused and sent again by `EVAL` keep
    /// their order (a leave can never overtake the join before it).
    ///
    /// - `j` join (or update, when present): KEYS members hash, node set, nodes set, order set,
    ///   users hash; ARGV op, client, member value, its meta field, member limit, channel, topic,
    ///   node id, node entry. Returns the member value as stored (an update keeps `joined_at`),
    ///   or nil when the topic is full (the caller reads the list, or a page of it, after: one
    ///   read serves every join of a burst, where a list per join would be O(members²) bytes).
    /// - `u` update: the same keys and arguments (the limit is not read). Returns 1, or 0 when
    ///   the client is not present.
    /// - `l` leave: KEYS members hash, node set, order set, users hash; ARGV op, client, channel,
    ///   topic, node entry. Returns 1, or 0 when the client was not present.
    /// - `p` page: KEYS members hash, order set, users hash; ARGV op, the `joined_at` and client
    ///   of the member the page comes after (both empty: from the start), the most members (-1:
    ///   all). Returns {members, users, 1 when members remain after the page else 0, member
    ///   value…}: the cost of the page, not of the list. Order set and users hash are built again
    ///   from the members when the set's size disagrees (members written by a hub without them).
    /// - `s` signal: KEYS the sender's topics' member hashes; ARGV op, sender, target, the
    ///   target node's channel prefix, this node's id, the relayed payload (empty: only locate).
    ///   Returns nil when no topic has both, else {index of the topic (from 1), the target's
    ///   node, how many received the relay (0 when it is on this node or not sent)}.
    public static let member = RedisScript(
        Self.fields + """

            local op = ARGV[1]
            if op == 'j' or op == 'u' then
              local old = redis.call('HGET', KEYS[1], ARGV[2])
              if old then
                local new = string.sub(old, 1, skip(old, 5) - 1) .. ARGV[4]
                if new ~= old then
                  redis.call('HSET', KEYS[1], ARGV[2], new)
                  redis.call('PUBLISH', ARGV[6], field('u') .. field(ARGV[7]) .. old .. new)
                end
                if op == 'u' then return 1 end
                return new
              end
              if op == 'u' then return 0 end
              if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return false end
              redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
              addorder(KEYS[4], KEYS[5], ARGV[3])
              redis.call('SADD', KEYS[2], ARGV[9])
              redis.call('SADD', KEYS[3], ARGV[8])
              redis.call('PUBLISH', ARGV[6], field('j') .. field(ARGV[7]) .. ARGV[3])
              return ARGV[3]
            elseif op == 'l' then
              local old = redis.call('HGET', KEYS[1], ARGV[2])
              if not old then return 0 end
              redis.call('HDEL', KEYS[1], ARGV[2])
              removeorder(KEYS[3], KEYS[4], old)
              redis.call('SREM', KEYS[2], ARGV[5])
              redis.call('PUBLISH', ARGV[3], field('l') .. field(ARGV[4]) .. old)
              return 1
            elseif op == 's' then
              for index, key in ipairs(KEYS) do
                if redis.call('HEXISTS', key, ARGV[2]) == 1 then
                  local value = redis.call('HGET', key, ARGV[3])
                  if value then
                    local node = first(value)
                    local received = 0
                    if ARGV[6] ~= '' and node ~= ARGV[5] then received = redis.call('PUBLISH', ARGV[4] .. node, ARGV[6]) end
                    return {index, node, received}
                  end
                end
              end
              return false
            elseif op == 'p' then
              local count = redis.call('HLEN', KEYS[1])
              if redis.call('ZCARD', KEYS[2]) ~= count then
                redis.call('DEL', KEYS[2], KEYS[3])
                for _, value in ipairs(redis.call('HVALS', KEYS[1])) do addorder(KEYS[2], KEYS[3], value) end
              end
              local reply = {count, redis.call('HLEN', KEYS[3]), 0}
              local limit = tonumber(ARGV[4])
              if limit == 0 then return reply end
              local from = ARGV[2] == '' and '-' or '(' .. orderkey(ARGV[2], ARGV[3])
              local entries
              if limit < 0 then
                entries = redis.call('ZRANGEBYLEX', KEYS[2], from, '+')
              else
                entries = redis.call('ZRANGEBYLEX', KEYS[2], from, '+', 'LIMIT', 0, limit + 1)
                if #entries > limit then
                  reply[3] = 1
                  entries[#entries] = nil
                end
              end
              for _, entry in ipairs(entries) do
                local value = redis.call('HGET', KEYS[1], string.sub(entry, 22))
                if value then reply[#reply + 1] = value end
              end
              return reply
            end
            return redis.error_reply('unknown presence operation')
            """
    )

    /// Removes the members of dead nodes, announcing each as a leave: every node listed in the
    /// nodes set whose heartbeat hash (`<prefix>:node:<id>`, ``RedisNodeDirectory``) is gone,
    /// other than the caller; or only the node named in `ARGV[4]`, whatever its heartbeat (a
    /// node purging what an earlier run of itself left). At most `ARGV[3]` members per node per
    /// call, so Redis is never blocked long: call again while some remain. A member whose hash
    /// value names another node (the client joined again elsewhere) is left alone. Several
    /// nodes may sweep at once: each entry is popped by one of them.
    ///
    /// KEYS: nodes set. ARGV: prefix, caller's node id, batch size, node to purge (or empty).
    /// Returns {members removed, members still to sweep}.
    public static let sweep = RedisScript(
        Self.fields + """

            local prefix, forced = ARGV[1], ARGV[4]
            local removed, remaining = 0, 0
            local nodes = forced ~= '' and {forced} or redis.call('SMEMBERS', KEYS[1])
            for _, node in ipairs(nodes) do
              if forced ~= '' or (node ~= ARGV[2] and redis.call('EXISTS', prefix .. ':node:' .. node) == 0) then
                local set = prefix .. ':pn:' .. node
                for _, entry in ipairs(redis.call('SPOP', set, ARGV[3])) do
                  local topic = first(entry)
                  local client = string.sub(entry, skip(entry, 1))
                  local key = prefix .. ':pm:' .. topic
                  local value = redis.call('HGET', key, client)
                  if value and first(value) == node then
                    redis.call('HDEL', key, client)
                    removeorder(prefix .. ':po:' .. topic, prefix .. ':pu:' .. topic, value)
                    local namespace = string.match(topic, '^[^:.]*')
                    redis.call('PUBLISH', prefix .. ':pr:' .. namespace, field('l') .. field(topic) .. value)
                    removed = removed + 1
                  end
                end
                local left = redis.call('SCARD', set)
                if left == 0 then redis.call('SREM', KEYS[1], node) end
                remaining = remaining + left
              end
            end
            return {removed, remaining}
            """
    )
}
