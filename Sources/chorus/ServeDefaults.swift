import ChorusServer

extension HubConfiguration {
    /// What `chorus serve` starts from before its file, environment and flags: the library's
    /// defaults, plus history for the `/demo` chat (its `demo` namespace keeps 1,000 messages
    /// per topic for 24 hours) in SQLite in `./chorus-data`, so the demo recovers what it
    /// missed across a restart. An application embedding Chorus starts from neither.
    static var serveDefaults: HubConfiguration {
        var configuration = HubConfiguration()
        configuration.namespaces = ["demo": NamespaceOptions(historySize: 1000, historyTTL: .seconds(86_400))]
        configuration.store = .sqlite
        return configuration
    }
}
