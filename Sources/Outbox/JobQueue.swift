import MailCore

/// The jobs waiting for a database thread: every foreground job goes into the next batch; background
/// jobs follow in arrival order, as many as a weight budget allows. Lazy jobs alone do not start a batch
/// until they have waited `linger` or filled the budget: outcome records arrive one by one from the
/// delivery threads, and a commit for each wrote every page they share again (and synced it).
final class JobQueue: @unchecked Sendable {
    /// How long a lazy job may wait for others: far below anything a person notices, and about ten
    /// commits' worth of outcomes at full delivery speed.
    static let defaultLinger = 0.005

    let linger: Double
    /// Background weight one batch may carry (see `DatabaseThread.backgroundBudget`).
    let backgroundBudget: Int

    init(linger: Double = JobQueue.defaultLinger, backgroundBudget: Int = DatabaseThread.backgroundBudget) {
        self.linger = linger
        self.backgroundBudget = backgroundBudget
    }

    private let lock = ConditionLock()
    private var foreground: [DatabaseThread.Job] = []
    private var background: [DatabaseThread.Job] = []
    private var backgroundHead = 0
    /// Waiting lazy jobs (all of them in `background`, past `backgroundHead`) and the weight they carry.
    private var lazyWeight = 0
    private var lazyCount = 0
    /// When the oldest waiting lazy job arrived.
    private var lazySince = 0.0
    private var closed = false

    /// Adds a job; false when the queue is closed.
    func push(_ job: DatabaseThread.Job) -> Bool {
        lock.withLock {
            guard !closed else { return false }
            if job.background { background.append(job) } else { foreground.append(job) }
            if job.lazy {
                if lazyCount == 0 { lazySince = monotonicSeconds() }
                lazyCount += 1
                lazyWeight += job.weight
                // The thread needs waking only to start its linger, or to end it early with a full batch.
                if lazyCount > 1 && lazyWeight < backgroundBudget { return true }
            }
            lock.signal()
            return true
        }
    }

    private var isEmpty: Bool { foreground.isEmpty && backgroundHead == background.count }

    /// Whether what is waiting makes a batch now: anything but lazy jobs does, lazy jobs once they have
    /// lingered or fill the budget, and everything once the queue is closed.
    private func isReady(now: Double) -> Bool {
        if isEmpty { return false }
        if closed || !foreground.isEmpty || background.count - backgroundHead > lazyCount { return true }
        return lazyWeight >= backgroundBudget || now >= lazySince + linger
    }

    /// The next batch (waiting up to `timeout` seconds for one); empty on timeout (lazy jobs still
    /// lingering stay queued) or when closed and drained.
    func popBatch(timeout: Double) -> [DatabaseThread.Job] {
        lock.withLock {
            let deadline = monotonicSeconds() + timeout
            while true {
                let now = monotonicSeconds()
                if closed || isReady(now: now) { break }
                let until = isEmpty ? deadline : min(deadline, lazySince + linger)
                if until <= now { return [] }
                lock.wait(seconds: until - now)
            }
            var batch = foreground
            foreground.removeAll(keepingCapacity: true)
            var spent = 0
            while backgroundHead < background.count {
                let job = background[backgroundHead]
                // Always at least one background job, however heavy, so background work cannot starve.
                if spent > 0 && spent + job.weight > backgroundBudget { break }
                batch.append(job)
                spent += job.weight
                backgroundHead += 1
                if job.lazy {
                    lazyCount -= 1
                    lazyWeight -= job.weight
                }
            }
            if backgroundHead == background.count {
                background.removeAll(keepingCapacity: true)
                backgroundHead = 0
            } else if backgroundHead > 1024 {
                background.removeFirst(backgroundHead)
                backgroundHead = 0
            }
            return batch
        }
    }

    func close() {
        lock.withLock {
            closed = true
            lock.broadcast()
        }
    }

    var isClosedAndEmpty: Bool { lock.withLock { closed && isEmpty } }
}
