import MailCore

/// One connection and the one thread that uses it. On a writer, the jobs waiting when a batch starts
/// share one transaction and one commit (group commit); one failing job does not undo the others (see
/// `runBatch`).
final class DatabaseThread: @unchecked Sendable {
    /// A job: `run` executes inside the batch and reports success; `finish` runs after the commit with
    /// the commit's error, if any.
    final class Job: @unchecked Sendable {
        let run: (OutboxStore) -> Bool
        let finish: (SQLiteError?) -> Void
        /// Background work (claims, outcomes, sweeps) yields to foreground work (enqueues, requests).
        let background: Bool
        /// Background work nobody waits for (outcomes already durable elsewhere, or awaited by no one):
        /// it may wait up to `JobQueue.linger` for company, so that one commit carries many.
        let lazy: Bool
        /// Roughly how many rows it touches, to bound how much background work one commit carries.
        let weight: Int

        init(
            background: Bool = false, lazy: Bool = false, weight: Int = 1, run: @escaping (OutboxStore) -> Bool,
            finish: @escaping (SQLiteError?) -> Void
        ) {
            self.background = background || lazy
            self.lazy = lazy
            self.weight = weight
            self.run = run
            self.finish = finish
        }
    }

    /// Background weight one batch may carry: an enqueue never waits behind more than a few
    /// milliseconds of claims and outcome records.
    static let backgroundBudget = 256
    /// WAL frames (4 KiB pages) past which the writer helps finish a checkpoint: SQLite's own default.
    static let walRestartFrames: Int32 = 1000

    private let queue = JobQueue()
    private let store: OutboxStore
    private let batched: Bool
    private let done: Latch<Bool>
    /// Monotonic seconds of the loop's last turn, for the watchdog.
    let heartbeat = Locked<Double>(monotonicSeconds())
    /// Commits so far (the checkpointer watches it).
    let commits = Locked<Int>(0)

    init(name: String, store: OutboxStore, batched: Bool) {
        self.store = store
        self.batched = batched
        let queue = self.queue
        let heartbeat = self.heartbeat
        let commits = self.commits
        done = DedicatedThread.start(name: name) { [store] in
            while true {
                let jobs = queue.popBatch(timeout: 1)
                heartbeat.withLock { $0 = monotonicSeconds() }
                if jobs.isEmpty {
                    if queue.isClosedAndEmpty { return }
                    continue
                }
                if batched {
                    DatabaseThread.runBatch(jobs, store: store)
                    commits.withLock { $0 += 1 }
                } else {
                    for job in jobs {
                        // Reads need no transaction: each job's outcome is its own.
                        _ = job.run(store)
                        job.finish(nil)
                    }
                }
            }
        }
    }

    private static func runBatch(_ jobs: [Job], store: OutboxStore) {
        // Optimistic first: no savepoint per job. A savepoint makes SQLite copy every page a job touches
        // first into an in-memory statement journal (a 4 KiB copy and four allocations a page) and free it
        // all on release: about 30 % of the writer's time for an enqueue. Jobs rarely fail; when one does,
        // the whole transaction is rolled back and the batch runs again, each job in its own savepoint, so
        // the failing job alone is undone. Running a job twice is safe: a rolled-back job left nothing in
        // the database, its result is overwritten, and the counts are restored.
        let counts = store.countChanges
        switch runTogether(jobs, store: store) {
        case .committed, .failedToBegin:
            return
        case .jobFailed:
            if store.db.inTransaction { try? store.db.execute("ROLLBACK") }
            store.countChanges = counts
            runEachInSavepoint(jobs, store: store)
        }
    }

    private enum TogetherOutcome { case committed, failedToBegin, jobFailed }

    /// Runs the jobs in one transaction without savepoints; commits unless one fails (then leaves the
    /// transaction for the caller to roll back).
    private static func runTogether(_ jobs: [Job], store: OutboxStore) -> TogetherOutcome {
        let db = store.db
        if let lost = store.lostFile {
            for job in jobs { job.finish(OutboxStore.lostError(lost)) }
            return .failedToBegin
        }
        do {
            try db.statement("BEGIN IMMEDIATE").run()
        } catch {
            for job in jobs { job.finish(error) }
            return .failedToBegin
        }
        for job in jobs where !job.run(store) { return .jobFailed }
        commit(jobs, store: store)
        return .committed
    }

    /// The careful way: each job in its own savepoint, so one failing job does not undo the others.
    private static func runEachInSavepoint(_ jobs: [Job], store: OutboxStore) {
        let db = store.db
        // Prepared once and reused: parsing these for every job cost more than the jobs' own inserts.
        func run(_ sql: StaticString) throws(SQLiteError) { try db.statement(sql).run() }
        do {
            try run("BEGIN IMMEDIATE")
        } catch {
            for job in jobs { job.finish(error) }
            return
        }
        for (index, job) in jobs.enumerated() {
            do {
                let counts = store.countChanges
                try run("SAVEPOINT job")
                if !job.run(store) {
                    guard db.inTransaction else {
                        // SQLite rolled the whole transaction back: this job has its own error; the
                        // others' work is gone with it.
                        store.forgetCounts()
                        let lost = SQLiteError(
                            code: 1, operation: "commit", message: "rolled back with a failed request of the same batch")
                        for (other, job) in jobs.enumerated() { job.finish(other == index ? nil : lost) }
                        return
                    }
                    try run("ROLLBACK TO job")
                    store.countChanges = counts
                }
                try run("RELEASE job")
            } catch {
                // A savepoint statement itself failed: the transaction is unusable.
                try? db.execute("ROLLBACK")
                store.forgetCounts()
                for job in jobs { job.finish(error) }
                return
            }
        }
        commit(jobs, store: store)
    }

    private static func commit(_ jobs: [Job], store: OutboxStore) {
        let db = store.db
        do {
            try store.writeCounts()
            try db.statement("COMMIT").run()
            // Committed, but to a file no longer at its path (two stat calls a commit): no acknowledgement
            // may say it is durable.
            if let moved = db.movedFile() {
                store.lostFile = moved
                for job in jobs { job.finish(OutboxStore.lostError(moved)) }
                store.onStorageLost?(moved)
                return
            }
            for job in jobs { job.finish(nil) }
            // The checkpointer thread copies most of the WAL, but under continuous writes it never catches
            // the last frames, and the WAL grows without end (each commit then also extends the file). A
            // passive checkpoint here, between two transactions, finishes those few frames so the next
            // write starts the WAL over.
            if db.walFrames > DatabaseThread.walRestartFrames { db.checkpointPassive() }
        } catch {
            try? db.execute("ROLLBACK")
            store.forgetCounts()
            for job in jobs { job.finish(error) }
        }
    }

    /// Queues a job; false when the thread is stopping.
    func submit(_ job: Job) -> Bool { queue.push(job) }

    /// Runs `body` on this thread and calls `completion` with its result after the commit.
    func perform<T: Sendable>(
        background: Bool = false, lazy: Bool = false, weight: Int = 1, _ body: @escaping (OutboxStore) throws -> T,
        completion: @escaping @Sendable (Result<T, OutboxError>) -> Void
    ) {
        let box = ResultBox<T>()
        let job = Job(
            background: background, lazy: lazy, weight: weight,
            run: { store in
                do {
                    box.result = .success(try body(store))
                    return true
                } catch let error as OutboxError {
                    box.result = .failure(error)
                } catch {
                    box.result = .failure(.unavailable("storage failure: \(error)"))
                }
                return false
            },
            finish: { commitError in
                if let commitError {
                    completion(.failure(.unavailable("storage failure: \(commitError)")))
                } else {
                    completion(box.result ?? .failure(.unavailable("storage failure")))
                }
            })
        if !submit(job) { completion(.failure(.unavailable("the outbox is closing"))) }
    }

    /// `perform` for Swift concurrency: the caller's task waits without blocking a pool thread.
    func perform<T: Sendable>(_ body: @escaping @Sendable (OutboxStore) throws -> T) async throws(OutboxError) -> T {
        let result: Result<T, OutboxError> = await withCheckedContinuation { continuation in
            perform(body) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// `perform` for dedicated threads: blocks the calling thread until the commit.
    func performBlocking<T: Sendable>(
        background: Bool = false, weight: Int = 1, _ body: @escaping @Sendable (OutboxStore) throws -> T
    ) throws(OutboxError) -> T {
        let latch = Latch<Result<T, OutboxError>>()
        perform(background: background, weight: weight, body) { latch.set($0) }
        return try latch.wait().get()
    }

    /// Stops taking jobs, runs those queued, and waits for the thread to end.
    func close() {
        queue.close()
        _ = done.wait()
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, OutboxError>?
}
