import MailCore

/// The outbox's SQL, run on one connection by one thread at a time. Writes run on the writer thread
/// inside the group-commit transaction (see `DatabaseThread`); reads on reader connections.
/// Sendable only so it can be handed to the thread that owns it; it is never used by two threads.
final class OutboxStore: @unchecked Sendable {
    let db: Database
    /// Changes to the per-state counts made in the current transaction, written by `writeCounts()`
    /// before it commits (indexed by `MessageState.allCases`).
    var countChanges = [Int](repeating: 0, count: MessageState.allCases.count)
    /// On the writer: the database file or WAL found deleted or replaced after a commit. Nothing written
    /// since can survive, so from then on every batch fails (see `DatabaseThread.commit`).
    var lostFile: String?
    /// Called once, on the writer's thread, when `lostFile` is first set.
    var onStorageLost: (@Sendable (String) -> Void)?

    /// The error every job gets once `lostFile` is set.
    static func lostError(_ file: String) -> SQLiteError {
        SQLiteError(
            code: 1032, operation: "commit",  // SQLITE_READONLY_DBMOVED
            message: "\(file) was deleted or replaced while maild was running; nothing more can be stored until maild restarts")
    }

    init(db: Database) {
        self.db = db
    }

    private static func index(_ state: MessageState) -> Int { MessageState.allCases.firstIndex(of: state)! }

    /// Notes that a message left `from` (nil: it is new) for `to` (nil: it is deleted).
    func moved(from: MessageState?, to: MessageState?) {
        if let from { countChanges[Self.index(from)] -= 1 }
        if let to { countChanges[Self.index(to)] += 1 }
    }

    /// The state a pending message is in: one never attempted is `queued`, one attempted `deferred`.
    static func pendingState(attempts: Int) -> MessageState { attempts > 0 ? .deferred : .queued }

    /// Adds the noted changes to `state_counts` (inside the transaction that made them).
    func writeCounts() throws(SQLiteError) {
        guard countChanges.contains(where: { $0 != 0 }) else { return }
        let update = try db.statement("UPDATE state_counts SET n = n + ? WHERE state = ?")
        for (i, change) in countChanges.enumerated() where change != 0 {
            update.reset()
            try update.bind(1, change).bind(2, MessageState.allCases[i].rawValue).run()
        }
        forgetCounts()
    }

    func forgetCounts() {
        for i in countChanges.indices { countChanges[i] = 0 }
    }

    /// Stores a message with its recipients and bytes, or finds the earlier message with the same
    /// idempotency key for the same company.
    func enqueue(_ m: NewMessage, now: Timestamp) throws(SQLiteError) -> EnqueueOutcome {
        let company = m.company ?? ""
        if let key = m.idempotencyKey {
            let find = try db.statement("SELECT id FROM messages WHERE company = ? AND idempotency_key = ?")
            find.bind(1, company).bind(2, key)
            if let id = try find.first({ $0.int64(0) }) { return EnqueueOutcome(id: id, duplicate: true) }
        }
        let insert = try db.statement(
            """
            INSERT INTO messages (company, kind, state, message_id, envelope_from, from_header, subject, size, smtputf8,
                eightbit, idempotency_key, created_at, age_from, updated_at, next_attempt_at)
            VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?11, ?11)
            """)
        insert.bind(1, company).bind(2, m.kind.rawValue).bind(3, m.messageID).bind(4, m.envelopeFrom)
            .bind(5, m.fromAddress).bind(6, m.subject).bind(7, m.data.count).bind(8, m.smtpUTF8Column)
            .bind(9, m.has8BitData).bind(10, m.idempotencyKey).bind(11, now.milliseconds)
        try insert.run()
        moved(from: nil, to: .queued)
        let id = db.lastInsertRowID
        try db.statement("INSERT INTO message_data (id, data) VALUES (?, ?)").bind(1, id).bind(2, blob: m.data).run()
        let recipient = try db.statement(
            "INSERT INTO recipients (message, position, address, state) VALUES (?, ?, ?, 'pending')")
        for (position, address) in m.recipients.enumerated() {
            recipient.reset()
            try recipient.bind(1, id).bind(2, position).bind(3, address).run()
        }
        return EnqueueOutcome(id: id, duplicate: false)
    }

    /// The bytes of a message, or nil when it is gone.
    func data(id: Int64) throws(SQLiteError) -> [UInt8]? {
        let s = try db.statement("SELECT data FROM message_data WHERE id = ?")
        s.bind(1, id)
        return try s.first { $0.blob(0) }
    }
}
