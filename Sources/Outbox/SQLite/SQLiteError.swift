internal import CSQLite

/// A failed SQLite call: which operation, SQLite's result code and message. Statement arguments are
/// never included (they may hold message data).
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public let operation: String
    public let message: String

    public var description: String { "\(operation): \(message) (SQLite code \(code))" }

    /// SQLITE_BUSY / SQLITE_LOCKED: another process holds the database.
    public var isBusy: Bool { code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED }
    /// The disk is full.
    public var isFull: Bool { code & 0xFF == SQLITE_FULL }
}
