import ChorusRedis

/// The Lua scripts of ``RedisHistoryStore``: each runs atomically in Redis, which is what
/// makes Redis the cluster's ordering authority.
enum RedisHistoryScripts {
    /// Commits one message and publishes it, in one step: the topic's next offset (a new
    /// epoch when the topic's meta hash is gone: a new topic, or a lost one), the next
    /// cluster sequence (seeded from the time in µs when missing, so it never goes backwards
    /// after Redis lost it), the topic's stream entry `<offset>-1` (capped at the namespace's
    /// history size), the namespace log entry `<sequence>-1` (for pattern replays), the
    /// newest time trimming reached per namespace, then `PUBLISH` of the offset, epoch and
    /// sequence before the body the node encoded (``BrokerWireFormat``).
    ///
    /// A topic given a new epoch starts a new stream (what is left of the old one, after its
    /// meta hash was evicted, say, would clash with the new offsets). With a TTL, entries older
    /// than it are dropped from the front of the stream (a few per call: each goes once), and
    /// the meta hash, stream and log expire the TTL after the last publish, as one topic left
    /// empty on a single node starts a new epoch. Without a TTL, the first message makes the
    /// meta hash permanent (``subscriberPosition`` may have created it with a lifetime).
    ///
    /// KEYS: meta hash, stream, sequence, namespace log, namespaces set, trimmed hash.
    /// ARGV: channel, body, keep, epoch if new, sequence seed, log length, topic, namespace,
    /// timestamp (ms), TTL (ms, 0: none). Returns {offset, epoch, sequence}.
    static let publish = RedisScript(
        """
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        if not epoch then
          epoch = ARGV[4]
          redis.call('HSET', KEYS[1], 'epoch', epoch)
          redis.call('DEL', KEYS[2])
        end
        local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
        if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('SET', KEYS[3], ARGV[5]) end
        -- As text in full: Lua prints numbers of more than 14 digits in exponent form.
        local seq = string.format('%d', redis.call('INCR', KEYS[3]))
        if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[3]) or redis.call('XLEN', KEYS[4]) >= tonumber(ARGV[6]) then
          redis.call('HSET', KEYS[6], ARGV[8], ARGV[9])
        end
        redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], offset .. '-1', 'q', seq, 'd', ARGV[2], 'm', ARGV[9])
        redis.call('XADD', KEYS[4], 'MAXLEN', ARGV[6], seq .. '-1', 't', ARGV[7], 'o', offset, 'm', ARGV[9])
        redis.call('SADD', KEYS[5], ARGV[8])
        local ttl = tonumber(ARGV[10])
        if ttl > 0 then
          local cutoff = tonumber(ARGV[9]) - ttl
          for _, entry in ipairs(redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 8)) do
            local time = tonumber(entry[2][6])
            if time >= cutoff then break end
            redis.call('XDEL', KEYS[2], entry[1])
            redis.call('HSET', KEYS[6], ARGV[8], ARGV[9])
          end
          redis.call('PEXPIRE', KEYS[1], ttl)
          redis.call('PEXPIRE', KEYS[2], ttl)
          redis.call('PEXPIRE', KEYS[4], ttl)
        elseif offset == 1 then
          redis.call('PERSIST', KEYS[1]) -- an epoch given to a subscriber before the first message
        end
        local function field(value) value = tostring(value) return #value .. ':' .. value end
        redis.call('PUBLISH', ARGV[1], field(offset) .. field(epoch) .. field(seq) .. ARGV[2])
        return {offset, epoch, tonumber(seq)}
        """
    )

    /// A topic's offset and epoch and the cluster sequence, read together for a subscriber: a
    /// topic with no meta hash gets its epoch (offset 0) now, expiring after the given lifetime
    /// unless a message comes first (the publish script then keeps it).
    /// KEYS: meta hash, sequence. ARGV: epoch if new, lifetime (ms).
    /// Returns {offset, epoch, sequence or nil}.
    static let subscriberPosition = RedisScript(
        """
        if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
          redis.call('HSET', KEYS[1], 'offset', 0)
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        local meta = redis.call('HMGET', KEYS[1], 'offset', 'epoch')
        return {meta[1], meta[2], redis.call('GET', KEYS[2])}
        """
    )

    /// A topic's offset and epoch and the cluster sequence, read together.
    /// KEYS: meta hash, sequence. Returns {offset or nil, epoch or nil, sequence or nil}.
    static let position = RedisScript(
        """
        local meta = redis.call('HMGET', KEYS[1], 'offset', 'epoch')
        return {meta[1], meta[2], redis.call('GET', KEYS[2])}
        """
    )
}

/// The keys of a cluster's history, under the prefix of its ``RedisChannels``.
struct RedisHistoryKeys: Sendable {
    let prefix: String

    /// The topic's offset and epoch.
    func meta(_ topic: String) -> String { "\(self.prefix):h:\(topic)" }
    /// The topic's messages, by id `<offset>-1`.
    func stream(_ topic: String) -> String { "\(self.prefix):s:\(topic)" }
    /// The cluster-wide store sequence.
    var sequence: String { "\(self.prefix):seq" }
    /// A namespace's messages in sequence order (id `<sequence>-1`: topic, offset, time).
    func log(_ namespace: String) -> String { "\(self.prefix):l:\(namespace)" }
    /// Every namespace with a log.
    var namespaces: String { "\(self.prefix):namespaces" }
    /// Per namespace, the newest time (ms) at which trimming dropped a message.
    var trimmed: String { "\(self.prefix):trimmed" }
}
