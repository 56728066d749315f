import MailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes delivery outcomes durable quickly, in two small append-only files of its own
/// (`<outbox>-deliveries.0` and `.1`).
///
/// A grouped connection must not run far ahead of its messages' durable outcomes, or a crash would
/// deliver many of them twice: it waits once `DeliveryWorker.unrecordedLimit` are pending. Waiting for
/// the outbox's own commit would put every connection behind the enqueue batches the writer is busy
/// with; the journal's appends carry only these small records, gathered for at most
/// `gatherMicroseconds`, so an outcome is durable about half a millisecond after it came. The outbox's
/// writer applies the entries in the background and reports them applied; a file whose records are all
/// applied is emptied, and once the current file passes `rotateBytes` appends move on to the other file
/// as soon as it is empty. At start-up, records left by a crash are applied first (a record applies only
/// to the claim it was made for, so applying one twice changes nothing).
final class DeliveryJournal: Sendable {
    /// Size past which appends move to the other file (once it is empty).
    static let rotateBytes = 1 << 20
    /// A fully applied current file is emptied only past this size: truncating costs a metadata write.
    static let truncateCurrentBytes = 64 << 10
    /// Fewer appends than this wait `gatherMicroseconds` for company before they are written.
    static let gatherCount = 8
    static let gatherMicroseconds: UInt32 = 400

    private let state: State
    private let work = Work()
    private let done: Latch<Bool>
    /// Monotonic seconds of the thread's last turn, for the watchdog.
    private let beat = Locked<Double>(monotonicSeconds())

    /// The journal files of the outbox at `outboxPath`.
    static func paths(for outboxPath: String) -> [String] { [outboxPath + "-deliveries.0", outboxPath + "-deliveries.1"] }
    /// Where maild before 2026-12 kept its journal (an SQLite database); applied and removed at start-up.
    static func legacyPath(for outboxPath: String) -> String { outboxPath + "-deliveries" }

    /// Opens the journal of the outbox at `outboxPath`, applies to `store` (the outbox's writer
    /// connection, before its thread starts) whatever an earlier run left in it, and empties it.
    /// `replayed` says how many records there were.
    init(outboxPath: String, replayInto store: OutboxStore, policy: RetryPolicy) throws {
        var replayed = 0
        let legacy = Self.legacyPath(for: outboxPath)
        if access(legacy, F_OK) == 0 {
            replayed += try Self.replayLegacy(path: legacy, into: store, policy: policy)
            for suffix in ["", "-wal", "-shm"] { unlink(legacy + suffix) }
        }
        let files = try Self.paths(for: outboxPath).map { path throws(SystemCallError) in try JournalFile(path: path) }
        // The files may be new: their directory entries must survive a power loss too.
        try Self.syncDirectory(of: outboxPath)
        var records: [(seq: Int64, entry: JournalEntry)] = []
        var discarded = 0
        for file in files {
            let read = try file.readAll()
            records += read.records
            discarded += read.discarded
        }
        records.sort { $0.seq < $1.seq }
        if !records.isEmpty {
            try Self.apply(records.map(\.entry), to: store, policy: policy)
            replayed += records.count
        }
        for file in files { try file.truncate() }
        self.replayed = replayed
        self.discardedBytes = discarded
        let state = State(files: files, nextSeq: (records.last?.seq ?? 0) + 1)
        self.state = state
        let work = self.work
        let beat = self.beat
        done = DedicatedThread.start(name: "outbox-journal") {
            while var (appends, removes) = work.take(timeout: 1) {
                if !appends.isEmpty && appends.count < Self.gatherCount {
                    // Group commit: the connections go on meanwhile (see `DeliveryWorker.unrecordedLimit`), so
                    // a short wait lets more outcomes share this fdatasync.
                    usleep(Self.gatherMicroseconds)
                    if let more = work.take(timeout: 0) {
                        appends += more.appends
                        removes += more.applied
                    }
                }
                beat.withLock { $0 = monotonicSeconds() }
                state.markApplied(removes)
                state.append(appends)
            }
        }
    }

    /// Records applied at start-up.
    let replayed: Int
    /// Bytes found after the last intact record at start-up: a record a crash tore while it was written
    /// (its outcome was never acknowledged, so the attempt is treated as not recorded), or damage.
    let discardedBytes: Int

    /// Makes `entries` durable; `completion` gets their seqs (for `remove`), on the journal's thread.
    func append(_ entries: [JournalEntry], completion: @escaping @Sendable (Result<[Int64], OutboxError>) -> Void) {
        if !work.push(Append(entries: entries, completion: completion)) {
            completion(.failure(.unavailable("the delivery journal is closed")))
        }
    }

    /// Notes entries the outbox has applied: the file holding them is emptied once all of its are.
    func remove(_ seqs: [Int64]) { work.pushApplied(seqs) }

    var heartbeat: Double { beat.current }

    /// Writes what is queued and stops the thread. Entries applied later are noted by `finish()`.
    func close() {
        work.close()
        _ = done.wait()
    }

    /// After `close()` and once the outbox's writer has stopped: empties the files whose records are all
    /// applied, so a clean stop leaves nothing to replay.
    func finish() {
        state.markApplied(work.takeApplied(), finishing: true)
    }

    // MARK: Start-up

    private static func apply(_ entries: [JournalEntry], to store: OutboxStore, policy: RetryPolicy) throws {
        try store.db.execute("BEGIN IMMEDIATE")
        do {
            for entry in entries {
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
    }

    private static func replayLegacy(path: String, into store: OutboxStore, policy: RetryPolicy) throws -> Int {
        let db = try Database(path: path)
        db.setBusyTimeout(milliseconds: 5000)
        try db.execute(OutboxStore.journalSchema)
        let entries = try OutboxStore(db: db).journalEntries()
        if !entries.isEmpty { try apply(entries.map(\.entry), to: store, policy: policy) }
        return entries.count
    }

    private static func syncDirectory(of path: String) throws(SystemCallError) {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let fd = try systemCall("open \(directory)") { open(directory.isEmpty ? "/" : directory, O_RDONLY | O_CLOEXEC) }
        defer { Glibc.close(fd) }
        try systemCall("fsync \(directory)") { fsync(fd) }
    }
}

extension DeliveryJournal {
    struct Append {
        let entries: [JournalEntry]
        let completion: @Sendable (Result<[Int64], OutboxError>) -> Void
    }

    /// The files and the next seq; used by one thread at a time (the journal's, then `finish()`'s caller).
    final class State: @unchecked Sendable {
        private let files: [JournalFile]
        private var current = 0
        private var nextSeq: Int64

        init(files: [JournalFile], nextSeq: Int64) {
            self.files = files
            self.nextSeq = nextSeq
        }

        /// Writes every queued entry in one append and one fdatasync, then completes each request.
        func append(_ appends: [Append]) {
            var bytes: [UInt8] = []
            var seqs: [[Int64]] = []
            var seq = nextSeq
            for request in appends {
                var mine: [Int64] = []
                for entry in request.entries {
                    JournalFile.encode(seq: seq, entry, into: &bytes)
                    mine.append(seq)
                    seq += 1
                }
                seqs.append(mine)
            }
            guard seq > nextSeq else {
                for request in appends { request.completion(.success([])) }
                return
            }
            if files[current].size >= DeliveryJournal.rotateBytes && files[1 - current].isEmpty { current = 1 - current }
            do {
                try files[current].append(bytes, seqs: nextSeq...(seq - 1))
                nextSeq = seq
                for (request, mine) in zip(appends, seqs) { request.completion(.success(mine)) }
            } catch {
                for request in appends { request.completion(.failure(.unavailable("delivery journal: \(error)"))) }
            }
        }

        /// Counts applied records against their files and empties the files that are done (`finishing`:
        /// the current one too, however small).
        func markApplied(_ seqs: [Int64], finishing: Bool = false) {
            for seq in seqs {
                if let file = files.first(where: { $0.holds(seq) }) { file.markApplied(1) }
            }
            for (index, file) in files.enumerated()
            where !file.isEmpty && file.isFullyApplied
                && (finishing || index != current || file.size >= DeliveryJournal.truncateCurrentBytes)
            {
                // Best effort: a file left as it is is replayed, harmlessly, at the next start.
                try? file.truncate()
            }
        }
    }

    /// Appends and applied seqs waiting for the journal's thread.
    final class Work: @unchecked Sendable {
        private let lock = ConditionLock()
        private var appends: [Append] = []
        private var applied: [Int64] = []
        private var closed = false

        func push(_ append: Append) -> Bool {
            lock.withLock {
                guard !closed else { return false }
                appends.append(append)
                lock.signal()
                return true
            }
        }

        func pushApplied(_ seqs: [Int64]) {
            lock.withLock { applied += seqs }
        }

        /// Everything waiting (waiting up to `timeout` seconds for appends; applied seqs alone do not wake
        /// the thread); nil once closed and drained.
        func take(timeout: Double) -> (appends: [Append], applied: [Int64])? {
            lock.withLock {
                if appends.isEmpty && !closed { _ = lock.wait(seconds: timeout) }
                if closed && appends.isEmpty { return nil }
                defer {
                    appends.removeAll(keepingCapacity: true)
                    applied.removeAll(keepingCapacity: true)
                }
                return (appends, applied)
            }
        }

        func takeApplied() -> [Int64] {
            lock.withLock {
                defer { applied.removeAll() }
                return applied
            }
        }

        func close() {
            lock.withLock {
                closed = true
                lock.broadcast()
            }
        }
    }
}
