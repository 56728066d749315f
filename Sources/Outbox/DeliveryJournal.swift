import MailCore

/// Makes delivery outcomes durable quickly, in a small database of their own (`<outbox>-deliveries`).
///
/// A grouped connection must not send the next message's data before the previous message's acceptance
/// is durable, or a crash could deliver it twice. Waiting for the outbox's own commit would put every
/// connection behind the enqueue batches the writer is busy with; the journal's commits carry only these
/// small rows, so a connection waits about one fsync. The outbox's writer applies the entries in the
/// background and then they are removed; at start-up, entries left by a crash are applied first
/// (an entry applies only to the claim it was made for, so applying one twice changes nothing).
final class DeliveryJournal: Sendable {
    private let thread: DatabaseThread

    init(path: String) throws {
        let db = try Database(path: path)
        db.setBusyTimeout(milliseconds: 5000)
        try db.execute(
            """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            PRAGMA journal_size_limit = 4194304;
            """)
        try db.execute(OutboxStore.journalSchema)
        thread = DatabaseThread(name: "outbox-journal", store: OutboxStore(db: db), batched: true)
    }

    /// The journal of the outbox at `outboxPath`.
    static func path(for outboxPath: String) -> String { outboxPath + "-deliveries" }

    func append(_ entries: [JournalEntry], completion: @escaping @Sendable (Result<[Int64], OutboxError>) -> Void) {
        thread.perform({ store in try store.journalAppend(entries) }, completion: completion)
    }

    /// Removes applied entries (best effort: what remains is applied again, harmlessly, at start-up).
    func remove(_ seqs: [Int64]) {
        thread.perform(background: true, weight: seqs.count, { store in try store.journalRemove(seqs) }) { _ in }
    }

    var heartbeat: Double { thread.heartbeat.current }

    func close() { thread.close() }
}

extension DeliveryJournal {
    /// Applies every entry a crash left in the journal at `path` to the outbox (`store`, the writer's),
    /// in one transaction, then empties the journal. Returns how many entries there were.
    static func replay(path: String, into store: OutboxStore, policy: RetryPolicy) throws -> Int {
        let journalDB = try Database(path: path)
        journalDB.setBusyTimeout(milliseconds: 5000)
        try journalDB.execute(OutboxStore.journalSchema)
        let journalStore = OutboxStore(db: journalDB)
        let entries = try journalStore.journalEntries()
        guard !entries.isEmpty else { return 0 }
        try store.db.execute("BEGIN IMMEDIATE")
        do {
            for (_, entry) in entries {
                _ = try store.record(
                    id: entry.message, result: entry.result, policy: policy, now: entry.at, jitter: 1,
                    attemptsBefore: entry.attemptsBefore)
            }
            try store.writeCounts()
            try store.db.execute("COMMIT")
        } catch {
            try? store.db.execute("ROLLBACK")
            store.forgetCounts()
            throw error
        }
        try journalStore.journalRemove(entries.map(\.seq))
        return entries.count
    }
}
