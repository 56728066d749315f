import MailCore

/// One connection and the one thread that uses it. Jobs run in order; on a writer, every job
/// waiting when a batch starts shares one transaction and one commit (group commit), each inside
/// its own savepoint so one failing job does not undo the others.
final class DatabaseThread: @unchecked Sendable {
    /// A job: `run` executes inside the batch and reports success; `finish` runs after the commit with
    /// the commit's error, if any.
    final class Job: @unchecked Sendable {
        let run: (OutboxStore) -> Bool
        let finish: (SQLiteError?) -> Void
        init(run: @escaping (OutboxStore) -> Bool, finish: @escaping (SQLiteError?) -> Void) {
            self.run = run
            self.finish = finish
        }
    }

    private let queue = WorkQueue<Job>()
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
                let jobs = queue.popAll(timeout: 1)
                heartbeat.withLock { $0 = monotonicSeconds() }
                if jobs.isEmpty {
                    if queue.isClosed && queue.count == 0 { return }
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
        let db = store.db
        do {
            try db.execute("BEGIN IMMEDIATE")
        } catch {
            for job in jobs { job.finish(error) }
            return
        }
        for job in jobs {
            do {
                try db.execute("SAVEPOINT job")
                if job.run(store) {
                    try db.execute("RELEASE job")
                } else {
                    try db.execute("ROLLBACK TO job")
                    try db.execute("RELEASE job")
                }
            } catch {
                // A savepoint statement itself failed: the transaction is unusable.
                try? db.execute("ROLLBACK")
                for job in jobs { job.finish(error) }
                return
            }
        }
        do {
            try db.execute("COMMIT")
            for job in jobs { job.finish(nil) }
        } catch {
            try? db.execute("ROLLBACK")
            for job in jobs { job.finish(error) }
        }
    }

    /// Queues a job; false when the thread is stopping.
    func submit(_ job: Job) -> Bool { queue.push(job) }

    /// Runs `body` on this thread and calls `completion` with its result after the commit.
    func perform<T: Sendable>(
        _ body: @escaping (OutboxStore) throws -> T, completion: @escaping @Sendable (Result<T, OutboxError>) -> Void
    ) {
        let box = ResultBox<T>()
        let job = Job(
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
    func performBlocking<T: Sendable>(_ body: @escaping @Sendable (OutboxStore) throws -> T) throws(OutboxError) -> T {
        let latch = Latch<Result<T, OutboxError>>()
        perform(body) { latch.set($0) }
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
