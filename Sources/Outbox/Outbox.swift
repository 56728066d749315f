#if canImport(Glibc)
import Glibc
#endif
import Logging
import MailCore

/// The durable SQLite outbox (WAL, synchronous=FULL, one writer with group commit).
///
/// Every write runs on the writer thread; concurrent writes share one transaction and one fsync, so
/// the acknowledgement rate is not bounded by one fsync per message. Reads for the control socket run
/// on a reader thread with its own connection; delivery threads read message bytes through their own
/// `MessageDataReader`. Nothing here blocks Swift's cooperative pool: async callers suspend until the
/// thread has done the work.
public final class Outbox: Sendable {
    public let path: String
    private let lock: LockFile
    /// Internal (not private) so that tests can queue jobs of their own.
    let writer: DatabaseThread
    private let storageLostHandler = Locked<(@Sendable (String) -> Void)?>(nil)

    /// `handler` runs (once, on the writer's thread) if the database file or its WAL is found deleted or
    /// replaced: from then on every write fails with `unavailable`, and only a restart helps.
    public func onStorageLost(_ handler: @escaping @Sendable (String) -> Void) {
        storageLostHandler.withLock { $0 = handler }
    }
    private let reader: DatabaseThread
    private let checkpointer: Checkpointer
    // Internal, not private: tests stop it to see outcomes take the outbox's own commit instead.
    let journal: DeliveryJournal
    private let clock: any WallClock
    private let logger: Logger
    /// Set by `close`: failed commits of delivery outcomes are no longer tried again.
    private let closing = Locked(false)
    private let retries = RetryTimer()

    /// Opens (creating and migrating) the outbox at `path`, takes its lock, applies the delivery outcomes
    /// an earlier crash left in the journal (deciding retries with `policy`), and puts back in the queue
    /// whatever is still `sending`.
    public init(
        path: String, clock: any WallClock = SystemWallClock(), policy: RetryPolicy = RetryPolicy(), logger: Logger
    ) throws {
        self.path = path
        self.clock = clock
        self.logger = logger
        lock = try LockFile(path: path + ".lock")
        // The outbox holds every message's text: readable by maild alone, whatever the umask (SQLite
        // would create it 0644, and gives the WAL and shared-memory files the database's mode).
        let created = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 { Glibc.close(created) }
        let writeDB = try Database(path: path)
        writeDB.setBusyTimeout(milliseconds: 5000)
        try writeDB.execute(
            """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            PRAGMA foreign_keys = OFF;
            PRAGMA temp_store = MEMORY;
            PRAGMA wal_autocheckpoint = 0;
            PRAGMA journal_size_limit = 67108864;
            PRAGMA cache_size = -4096;
            """)
        let now = clock.now()
        try Schema.migrate(writeDB, now: now.milliseconds)
        writeDB.watchWAL()
        let writeStore = OutboxStore(db: writeDB)
        journal = try DeliveryJournal(outboxPath: path, replayInto: writeStore, policy: policy)
        if journal.replayed > 0 {
            logger.notice("journal applied", metadata: ["event": "journal_replayed", "count": "\(journal.replayed)"])
        }
        if journal.discardedBytes > 0 {
            logger.warning(
                "the delivery journal ended in a record torn by a crash (or damaged); ignored: its message is due again",
                metadata: ["event": "journal_tail_discarded", "bytes": "\(journal.discardedBytes)"])
        }
        try writeDB.execute("BEGIN IMMEDIATE")
        let recovered = try writeStore.recoverInterrupted(now: now)
        try writeStore.writeCounts()
        try writeDB.execute("COMMIT")
        if recovered > 0 {
            logger.notice("recovered", metadata: ["event": "recovered", "count": "\(recovered)"])
        }
        writeDB.rememberFiles()
        let lostHandler = self.storageLostHandler
        writeStore.onStorageLost = { file in lostHandler.current?(file) }
        writer = DatabaseThread(name: "outbox-writer", store: writeStore, batched: true)

        let readDB = try Database(path: path, readOnly: true)
        readDB.setBusyTimeout(milliseconds: 5000)
        reader = DatabaseThread(name: "outbox-reader", store: OutboxStore(db: readDB), batched: false)

        let checkpointDB = try Database(path: path)
        checkpointDB.setBusyTimeout(milliseconds: 5000)
        checkpointer = Checkpointer(db: checkpointDB, commits: writer.commits, logger: logger)
    }

    /// Stops the threads after the work already queued, and checkpoints the WAL.
    public func close() {
        closing.withLock { $0 = true }
        // Pending retries run now, see `closing` and give up: their messages stay `sending`.
        retries.close()
        // Journal first: its last entries hand their outcomes to the writer, which then drains; then the
        // journal empties what the writer applied, so a clean stop leaves nothing to replay.
        journal.close()
        writer.close()
        journal.finish()
        reader.close()
        checkpointer.close()
    }

    /// Monotonic seconds of the oldest heartbeat of the outbox's threads (for the watchdog).
    public var oldestHeartbeat: Double { min(writer.heartbeat.current, reader.heartbeat.current, journal.heartbeat) }

    // MARK: Enqueue

    /// Stores a message; `completion` runs on the writer thread after the commit.
    public func enqueue(
        _ message: NewMessage, completion: @escaping @Sendable (Result<EnqueueOutcome, OutboxError>) -> Void
    ) {
        let clock = self.clock
        writer.perform({ store in try store.enqueue(message, now: clock.now()) }, completion: completion)
    }

    /// Stores a message; returns after the commit.
    public func enqueue(_ message: NewMessage) async throws(OutboxError) -> EnqueueOutcome {
        let clock = self.clock
        return try await writer.perform { store in try store.enqueue(message, now: clock.now()) }
    }

    // MARK: Delivery

    /// Records attempts (usually one; a whole lane when its relay is unreachable). `durable` runs once
    /// a crash can no longer lose the outcomes; `applied` once the outbox shows them, with each message's
    /// verdict (nil where an outcome no longer applied).
    ///
    /// `journaled`: the outcomes go first to the delivery journal, whose small commits make them durable
    /// quickly, for a caller that waits for `durable` (a grouped connection before its next message).
    /// Otherwise they wait for the outbox's own commit; either way the outbox applies them lazily, in
    /// commits shared by many.
    public func record(
        _ items: [(claim: ClaimedMessage, result: DeliveryResult)], policy: RetryPolicy,
        jitter: @escaping @Sendable () -> Double, journaled: Bool = true,
        durable: @escaping @Sendable (Result<Void, OutboxError>) -> Void,
        applied: @escaping @Sendable (Result<[MessageVerdict?], OutboxError>) -> Void
    ) {
        let now = clock.now()
        let entries = items.map {
            JournalEntry(message: $0.claim.id, attemptsBefore: $0.claim.attempts, at: now, result: $0.result)
        }
        let writer = self.writer
        let closing = self.closing
        let retries = self.retries
        let logger = self.logger
        // An outcome is never dropped: a commit that fails (a full disk, the outbox locked by another
        // process past the busy timeout) is tried again every second until it succeeds, or until the
        // outbox closes (then the messages stay `sending` and the next start puts them back, as after a
        // crash). Meanwhile `durable` or `applied` waits, and so does what waits for them: a grouped
        // connection sends no more data, and claims slow down.
        @Sendable func retried(
            _ attempt: Int, _ result: Result<[MessageVerdict?], OutboxError>, again: @escaping @Sendable (Int) -> Void
        ) -> Bool {
            guard case .failure(let error) = result, !closing.current else { return false }
            if attempt == 0 {
                logger.warning(
                    "cannot record delivery outcomes yet; trying again every second",
                    metadata: [
                        "event": "record_retry", "id": "\(entries.first.map { String($0.message) } ?? "-")",
                        "count": "\(entries.count)", "error": "\(error)",
                    ])
            }
            return retries.after(1) { again(attempt + 1) }
        }
        @Sendable func apply(completion: @escaping @Sendable (Result<[MessageVerdict?], OutboxError>) -> Void) {
            writer.perform(
                lazy: true, weight: entries.count,
                { store in
                    try entries.map {
                        try store.record(
                            id: $0.message, result: $0.result, policy: policy, now: $0.at, jitter: jitter(),
                            attemptsBefore: $0.attemptsBefore)
                    }
                }, completion: completion)
        }
        // Without the journal, the outbox's commit makes them durable and shows them at once.
        @Sendable func applyUnjournaled(_ attempt: Int = 0) {
            apply { result in
                if retried(attempt, result, again: applyUnjournaled) { return }
                durable(result.map { _ in () })
                applied(result)
            }
        }
        guard journaled else { return applyUnjournaled() }
        let journal = self.journal
        journal.append(entries) { appended in
            switch appended {
            case .failure(let error):
                // The journal cannot take them (a full disk, an I/O error): the outbox's own commit makes
                // them durable instead, later.
                logger.warning(
                    "delivery journal failed; outcomes go to the outbox directly",
                    metadata: ["event": "journal_failed", "error": "\(error)"])
                applyUnjournaled()
            case .success(let seqs):
                durable(.success(()))
                @Sendable func applyJournaled(_ attempt: Int = 0) {
                    apply { result in
                        if retried(attempt, result, again: applyJournaled) { return }
                        if case .success = result { journal.remove(seqs) }
                        applied(result)
                    }
                }
                applyJournaled()
            }
        }
    }

    /// Puts claimed, unattempted messages back in the queue, due now (from a dedicated thread).
    public func releaseBlocking(ids: [Int64]) throws(OutboxError) {
        guard !ids.isEmpty else { return }
        let clock = self.clock
        try writer.performBlocking(background: true, weight: ids.count) { store in
            try store.release(ids: ids, now: clock.now())
        }
    }

    /// Claims up to `limit` due messages, shared fairly between companies (from a dedicated thread).
    /// `include` selects the companies (nil: no company) whose mail may be claimed now.
    public func claimDueBlocking(
        limit: Int, leaseSeconds: Int, include: @escaping @Sendable (String?) -> Bool = { _ in true }
    ) throws(OutboxError) -> [ClaimedMessage] {
        let clock = self.clock
        return try writer.performBlocking(background: true, weight: limit) { store in
            try store.claimDue(now: clock.now(), limit: limit, leaseSeconds: leaseSeconds, include: include)
        }
    }

    /// Claims the given messages if they are still queued or deferred (from a dedicated thread).
    public func claimBlocking(ids: [Int64], leaseSeconds: Int) throws(OutboxError) -> [ClaimedMessage] {
        let clock = self.clock
        return try writer.performBlocking(background: true, weight: ids.count) { store in
            try ids.compactMap { try store.claim(id: $0, now: clock.now(), leaseSeconds: leaseSeconds) }
        }
    }

    /// Final messages one sweep transaction deletes at most: small, so enqueues never wait long.
    public static let sweepBatch = 500

    /// Deletes one small batch of final messages older than `retention` seconds; returns how many (from a
    /// dedicated thread).
    public func sweepBlocking(retention: Int, batch: Int = Outbox.sweepBatch) throws(OutboxError) -> Int {
        let clock = self.clock
        return try writer.performBlocking(background: true, weight: batch) { store in
            try store.sweep(before: clock.now().adding(seconds: -Double(retention)), limit: batch)
        }
    }

    /// A connection for one delivery thread to read message bytes.
    public func makeDataReader() throws -> MessageDataReader { try MessageDataReader(path: path) }

    // MARK: Queries

    public func counts() async throws(OutboxError) -> [MessageState: Int] {
        try await reader.perform { store in try store.counts() }
    }

    /// `counts` from a dedicated thread.
    public func countsBlocking() throws(OutboxError) -> [MessageState: Int] {
        try reader.performBlocking { store in try store.counts() }
    }

    public func list(_ request: ListRequest) async throws(OutboxError) -> [MessageSummary] {
        try await reader.perform { store in try store.list(request) }
    }

    public func detail(id: Int64) async throws(OutboxError) -> MessageDetail? {
        try await reader.perform { store in
            try store.db.execute("BEGIN")
            defer { try? store.db.execute("COMMIT") }
            return try store.detail(id: id)
        }
    }

    // MARK: Management

    /// Cancels a queued or deferred message; with `withdrawn`, also one the dispatcher claimed and gave
    /// back before any of it was sent (it is `sending` in the outbox until now).
    public func cancel(id: Int64, withdrawn: Bool = false) async throws(OutboxError) {
        let clock = self.clock
        try await writer.perform { store in
            if withdrawn { try store.release(ids: [id], now: clock.now()) }
            try store.cancel(id: id, now: clock.now())
        }
    }

    public func retry(id: Int64) async throws(OutboxError) {
        let clock = self.clock
        try await writer.perform { store in try store.retry(id: id, now: clock.now()) }
    }

    /// Messages one job of `retryAllFailed` or `flush` changes: small jobs keep enqueues from waiting behind
    /// one long transaction, and a job run in a savepoint (when another job of its batch failed) keeps the
    /// original of every page it changes in memory: a flush of 100,000 messages in one job took 28 MB.
    static let bulkBatch = 1000

    public func retryAllFailed() async throws(OutboxError) -> Int {
        let clock = self.clock
        var after: Int64 = 0
        var total = 0
        while true {
            let start = after
            let (count, last) = try await writer.perform { store in
                try store.retryFailed(after: start, limit: Outbox.bulkBatch, now: clock.now())
            }
            total += count
            guard let last, count == Outbox.bulkBatch else { return total }
            after = last
        }
    }

    public func flush() async throws(OutboxError) -> Int {
        let now = clock.now()
        var after: Int64 = 0
        var total = 0
        while true {
            let start = after
            let (changed, seen, last) = try await writer.perform { store in
                try store.flush(after: start, limit: Outbox.bulkBatch, now: now)
            }
            total += changed
            guard seen == Outbox.bulkBatch else { return total }
            after = last
        }
    }
}
