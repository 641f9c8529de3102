import ChorusCore
import Foundation
import GRDB

/// What every Chorus SQLite file does when it is opened: its folder is created (a fresh
/// `data_dir` works), and a failure says which database and why, as a ``StoreError``.
enum SQLiteFile {
    /// Runs `open` for the database `name` at `path` once the folder `path` is in exists;
    /// any failure becomes "cannot open the `name` database '`path`': reason".
    static func open<T>(_ name: String, at path: String, _ open: () throws -> T) throws(StoreError) -> T {
        do {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            return try open()
        } catch let error as DatabaseError {
            throw StoreError("cannot open the \(name) database '\(path)': \(error.message ?? error.description)")
        } catch {
            throw StoreError("cannot open the \(name) database '\(path)': \(error)")
        }
    }

    /// A pool on the database `name` at `path` in WAL mode with `synchronous` set to `sync`
    /// and `schema` run: the shape of the event and sync stores' files.
    static func pool(_ name: String, at path: String, sync: SQLiteMessageStore.Sync, schema: String) throws(StoreError) -> DatabasePool {
        try Self.open(name, at: path) {
            var configuration = Configuration()
            configuration.label = "chorus-\(name)"
            configuration.maximumReaderCount = 4
            let pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(sync.rawValue)") }
            try pool.write { db in try db.execute(sql: schema) }
            return pool
        }
    }
}

extension DatabasePool {
    /// A read whose failure is a ``StoreError`` naming the database `name`.
    func storeRead<T: Sendable>(_ name: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await self.read(body)
        } catch {
            throw Self.storeError(name, error)
        }
    }

    /// A write transaction whose failure is a ``StoreError`` naming the database `name`.
    func storeWrite<T: Sendable>(_ name: String, _ body: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await self.write(body)
        } catch {
            throw Self.storeError(name, error)
        }
    }

    /// ``storeWrite(_:_:)`` blocking the calling thread (a committer's own) instead of suspending.
    func storeWriteBlocking<T>(_ name: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try self.write(body)
        } catch {
            throw Self.storeError(name, error)
        }
    }

    private static func storeError(_ name: String, _ error: any Error) -> StoreError {
        if let error = error as? DatabaseError {
            return StoreError("\(name) database error: \(error.message ?? error.description)")
        }
        return StoreError("\(name) database error: \(error)")
    }
}
