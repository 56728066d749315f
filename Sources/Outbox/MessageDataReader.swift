import MailCore

/// Reads message bytes for one delivery thread, on a read-only connection of its own.
public final class MessageDataReader {
    private let store: OutboxStore

    init(path: String) throws {
        let db = try Database(path: path, readOnly: true)
        db.setBusyTimeout(milliseconds: 5000)
        // Bytes are read once each: a small cache is enough and keeps memory low.
        try db.execute("PRAGMA cache_size = -256")
        store = OutboxStore(db: db)
    }

    /// The bytes of message `id`, or nil when it no longer exists.
    public func data(id: Int64) throws -> [UInt8]? { try store.data(id: id) }

    /// The bytes of each message of `ids` (nil where one no longer exists), in one read transaction. A
    /// transaction that finds the outbox changed since the previous one starts with an empty page cache,
    /// so reading two messages in one costs little more than reading one.
    public func data(ids: [Int64]) throws -> [[UInt8]?] {
        guard ids.count > 1 else { return try ids.map { try store.data(id: $0) } }
        try store.db.statement("BEGIN").run()
        defer { try? store.db.statement("COMMIT").run() }
        return try ids.map { try store.data(id: $0) }
    }
}
