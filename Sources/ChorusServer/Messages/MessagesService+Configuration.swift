import ChorusCore
import ChorusPostgres
import ChorusSQLite
import Logging

extension MessagesService {
    /// Checks `messages` against the rest of the configuration and, unless the operator
    /// configured it, adds the `messages` namespace: only the server (the bridge) publishes
    /// there, anonymous clients do not subscribe, and `messages.user.{user}` is read by that
    /// user alone (`user_scoped_under: "user"`).
    static func prepare(_ configuration: inout HubConfiguration) throws(ConfigurationError) {
        guard configuration.messages else { return }
        guard configuration.events else {
            throw ConfigurationError("messages needs the event bus (events: true): each change of a message is an event")
        }
        if configuration.namespaces["messages"] == nil {
            var namespace = NamespaceOptions(publish: .server, anonymousSubscribe: false)
            namespace.userScopedUnder = "user"
            configuration.namespaces["messages"] = namespace
        }
    }

    /// The service when `messages` is on: its store is PostgreSQL's with `postgres_url`, else
    /// `messages.sqlite` in `data_dir`, opened when it runs.
    static func make(_ configuration: HubConfiguration, bus: EventBus?, postgres: PostgresService?, logger: Logger) throws(ConfigurationError) -> MessagesService? {
        guard configuration.messages else { return nil }
        guard let bus else { throw ConfigurationError("messages needs the event bus (events: true)") }
        let openStore: @Sendable () throws -> any ChatMessageStore
        if let postgres {
            openStore = { PostgresChatMessageStore(client: postgres.client, logger: logger) }
        } else {
            let path = configuration.dataDirectory + "/messages.sqlite"
            let sync = configuration.sqliteSync
            openStore = { try SQLiteChatMessageStore(path: path, sync: sync) }
        }
        return MessagesService(
            bus: bus, openStore: openStore,
            waitForStore: ChorusServer.ready(postgres), logger: logger)
    }
}
