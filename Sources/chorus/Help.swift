import ChorusServer

enum Help {
    static let overview = """
        chorus: a real-time messaging hub (WebSocket, SSE, HTTP publish)

        Usage:
          chorus serve [options]               run the hub (see 'chorus serve --help')
          chorus token --user ID [--ttl 1h]    print a client token signed with the configured JWT secret
                       [--subscribe P] [--publish P] [--claim K=V]   (see 'chorus token --help')
          chorus config init [--output PATH] [--force]
                                               write a starter chorus.json: fresh secrets, namespaces, a comment per setting
          chorus bench connections|fanout|echo|churn|events|presence|sync [options]
                                               load generator for a running hub (or Nchan); see 'chorus bench --help'
          chorus bench history [options]       durable publishes/s through the commit path, in process
          chorus bench transform MODULE [options]
                                               what a WebAssembly transform adds to a publish (p50/p99), in process
          chorus sub TOPIC... [--since OFFSET:EPOCH|MS] [--url URL] [--token JWT]
                                               print a running hub's messages as JSON lines (see 'chorus sub --help')
          chorus pub TOPIC DATA [--event E] [--http] [--url URL] [--token JWT]
                                               publish one message and print the receipt (see 'chorus pub --help')
          chorus events publish|tail|stats|dlq|replay [options]
                                               the event bus of a running hub: publish, follow the log, dead letters (see 'chorus events --help')
          chorus wasm check MODULE [--topic T] [--event E] [--data JSON]
                                               check a transform module's ABI and run it on a sample (docs/wasm.md)
          chorus pwa generate --config PATH [--root DIR]
                                               print a self-contained service worker (docs/pwa.md)
          chorus push keys                     print a new VAPID key pair for Web Push (docs/pwa.md)
          chorus help                          this text
        """

    /// Every option of `chorus serve`, from the same table the loader reads.
    static var serve: String {
        var lines = [
            "Usage: chorus serve [options]",
            "",
            "Each option is read, in rising precedence, from chorus.json (or the file named by",
            "--config / CHORUS_CONFIG), the environment variable shown, and the flag.",
            "",
            "  --config PATH  (CHORUS_CONFIG)",
            "      JSON configuration file. Default: chorus.json when it exists.",
        ]
        for option in ConfigurationOption.all {
            lines.append("  \(option.flag) VALUE  (\(option.environmentVariable))")
            lines.append("      \(option.help) Default: \(option.defaultValue(in: .serveDefaults))")
            // An application embedding the hub starts from HubConfiguration(), not from `chorus serve`'s.
            if option.defaultValue != option.defaultValue(in: .serveDefaults) {
                lines.append("      (Embedded, HubConfiguration(): \(option.defaultValue).)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
