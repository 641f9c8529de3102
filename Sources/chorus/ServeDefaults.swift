import ChorusServer

extension HubConfiguration {
    /// What `chorus serve` starts from before its file, environment and flags: the library's
    /// defaults, plus history for the `/demo` chat (its `demo` namespace keeps 1,000 messages
    /// per topic for 24 hours) in SQLite in `./chorus-data`, so the demo recovers what it
    /// missed across a restart, presence in that namespace (the demo's "In this room") and sync
    /// collections (the demo's shared task list, `demo:tasks`, in `./chorus-data/sync.sqlite`).
    /// An application embedding Chorus starts from neither.
    static var serveDefaults: HubConfiguration {
        var configuration = HubConfiguration()
        var demo = NamespaceOptions(historySize: 1000, historyTTL: .seconds(86_400), presence: true)
        demo.sync = true
        configuration.namespaces = ["demo": demo]
        configuration.store = .sqlite
        return configuration
    }
}
