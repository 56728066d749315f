internal import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// One SQLite connection. It has one owner, which closes it in deinit, and is used by one thread at a time.
final class Database {
    let handle: OpaquePointer
    let path: String
    /// Prepared statements by the address of their SQL literal: hashing an address is a few instructions,
    /// hashing the SQL text (SipHash over a few hundred bytes) was 4 % of the writer's time.
    private var cache: [UInt: Statement] = [:]
    /// Prepared statements whose SQL is put together at run time (listings with optional filters).
    private var composedCache: [String: Statement] = [:]

    /// Process-wide SQLite settings, applied once before the first connection opens.
    private static let configured: Bool = {
        _ = csqlite_disable_memory_statistics()
        return true
    }()

    /// Opens (creating when `create`) the database at `path`.
    init(path: String, readOnly: Bool = false, create: Bool = true) throws(SQLiteError) {
        _ = Database.configured
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, operation: "open \(path)", message: message)
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        cache.removeAll()
        composedCache.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, _ operation: String) -> SQLiteError {
        SQLiteError(code: rc, operation: operation, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: rc, operation: "execute", message: text)
        }
    }

    /// A prepared statement for `sql`, kept and reused (reset, bindings cleared) for the connection's life.
    /// The SQL is a literal, so its address names it for as long as the process runs.
    func statement(_ sql: StaticString) throws(SQLiteError) -> Statement {
        precondition(sql.hasPointerRepresentation, "SQL is text")
        let key = UInt(bitPattern: sql.utf8Start)
        if let cached = cache[key] {
            cached.reset()
            return cached
        }
        let statement = try Statement(database: self, sql: sql.description)
        cache[key] = statement
        return statement
    }

    /// Like `statement(_:)`, for SQL put together at run time.
    func statement(composed sql: String) throws(SQLiteError) -> Statement {
        if let cached = composedCache[sql] {
            cached.reset()
            return cached
        }
        let statement = try Statement(database: self, sql: sql)
        composedCache[sql] = statement
        return statement
    }

    /// Frames in the WAL after this connection's last commit, once `watchWAL()` was called.
    private(set) var walFrames: Int32 = 0

    /// Keeps `walFrames` current (SQLite's wal hook runs on this connection's thread, after each commit).
    func watchWAL() {
        sqlite3_wal_hook(
            handle,
            { context, _, _, frames in
                Unmanaged<Database>.fromOpaque(context!).takeUnretainedValue().walFrames = frames
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The database file and its WAL as `rememberFiles()` found them.
    private var files: [(path: String, device: UInt64, inode: UInt64)] = []

    /// Notes which files the database and its WAL are, for `movedFile()`.
    func rememberFiles() {
        files = [path, path + "-wal"].compactMap { file in
            var status = stat()
            guard stat(file, &status) == 0 else { return nil }
            return (file, UInt64(status.st_dev), UInt64(status.st_ino))
        }
    }

    /// The first remembered file no longer at its path: deleted, or replaced by another (an operator's `rm`,
    /// a cleaner of old files). SQLite goes on writing to the open file, and whatever it commits there is
    /// gone once the connection closes.
    func movedFile() -> String? {
        for file in files {
            var status = stat()
            if stat(file.path, &status) != 0 || UInt64(status.st_ino) != file.inode || UInt64(status.st_dev) != file.device {
                return file.path
            }
        }
        return nil
    }

    /// Copies what it can of the WAL into the database without waiting for anyone.
    func checkpointPassive() {
        sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
    /// False once SQLite rolled the transaction back by itself (after a full disk or an I/O error).
    var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    func setBusyTimeout(milliseconds: Int32) { sqlite3_busy_timeout(handle, milliseconds) }
}

/// A prepared statement; one owner finalizes it.
final class Statement {
    private let handle: OpaquePointer
    private unowned let database: Database

    init(database: Database, sql: String) throws(SQLiteError) {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw database.error(rc, "prepare") }
        handle = stmt
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64?) -> Statement {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ value: Int) -> Statement { bind(index, Int64(value)) }

    @discardableResult
    func bind(_ index: Int32, _ value: Bool) -> Statement { bind(index, Int64(value ? 1 : 0)) }

    @discardableResult
    func bind(_ index: Int32, _ value: String?) -> Statement {
        if var value {
            // The string's own UTF-8, with its length: passing the String made a NUL-terminated copy
            // (an allocation) for every bound value.
            value.withUTF8 { utf8 in
                // SQLite takes a null pointer as NULL; an empty string needs a valid one.
                let empty: StaticString = ""
                let start = utf8.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(empty.utf8Start)
                _ = sqlite3_bind_text(
                    handle, index, start.assumingMemoryBound(to: CChar.self), Int32(utf8.count), csqlite_transient())
            }
        } else {
            sqlite3_bind_null(handle, index)
        }
        return self
    }

    @discardableResult
    func bind(_ index: Int32, blob: [UInt8]) -> Statement {
        blob.withUnsafeBytes { raw in
            _ = sqlite3_bind_blob64(handle, index, raw.baseAddress, sqlite3_uint64(raw.count), csqlite_transient())
        }
        return self
    }

    /// Advances to the next row: true when there is one, false when done.
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(rc, "step")
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws(SQLiteError) {
        while try step() {}
    }

    /// Reads the first row, if any, and resets the statement, so it holds no read snapshot open (an open
    /// snapshot would keep the WAL from being checkpointed).
    func first<T>(_ read: (Statement) -> T) throws(SQLiteError) -> T? {
        defer { sqlite3_reset(handle) }
        return try step() ? read(self) : nil
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    func bool(_ column: Int32) -> Bool { sqlite3_column_int64(handle, column) != 0 }

    func string(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let raw = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: raw, count: count))
    }
}
