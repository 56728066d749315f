import Testing

@testable import Outbox

/// The writer's queue: what goes into one commit. Lazy jobs (outcome records nobody waits for) wait
/// for company; the tests give them a linger far longer than any test takes, so nothing depends on timing.
@Suite("Job queue: group commit and lazy jobs")
struct JobQueueTests {
    private func job(_ name: String, background: Bool = false, lazy: Bool = false, weight: Int = 1, log: Log)
        -> DatabaseThread.Job
    {
        DatabaseThread.Job(
            background: background, lazy: lazy, weight: weight, run: { _ in log.names.append(name); return true },
            finish: { _ in })
    }

    final class Log: @unchecked Sendable { var names: [String] = [] }

    private func names(_ batch: [DatabaseThread.Job], _ log: Log) -> [String] {
        log.names = []
        let store = OutboxStore(db: try! Database(path: ":memory:"))
        for job in batch { _ = job.run(store) }
        return log.names
    }

    @Test func aLazyJobAloneWaitsForCompanyAndAForegroundJobTakesItAlong() {
        let queue = JobQueue(linger: 600, backgroundBudget: 256)
        let log = Log()
        #expect(queue.push(job("outcome 1", lazy: true, log: log)))
        #expect(queue.push(job("outcome 2", lazy: true, log: log)))
        #expect(queue.popBatch(timeout: 0).isEmpty)
        #expect(queue.push(job("enqueue", log: log)))
        #expect(names(queue.popBatch(timeout: 0), log) == ["enqueue", "outcome 1", "outcome 2"])
        #expect(queue.popBatch(timeout: 0).isEmpty)
    }

    @Test func otherBackgroundWorkAndAFullBudgetDoNotWait() {
        let queue = JobQueue(linger: 600, backgroundBudget: 256)
        let log = Log()
        _ = queue.push(job("outcome", lazy: true, log: log))
        _ = queue.push(job("claim", background: true, log: log))
        #expect(names(queue.popBatch(timeout: 0), log) == ["outcome", "claim"])

        for i in 0..<3 { _ = queue.push(job("lane \(i)", lazy: true, weight: 100, log: log)) }
        // 300 of weight is past the budget: one commit takes what fits, the rest goes next.
        #expect(names(queue.popBatch(timeout: 0), log) == ["lane 0", "lane 1"])
        #expect(queue.popBatch(timeout: 0).isEmpty)
    }

    @Test func closingTakesLingeringJobsAtOnce() {
        let queue = JobQueue(linger: 600, backgroundBudget: 256)
        let log = Log()
        _ = queue.push(job("outcome", lazy: true, log: log))
        queue.close()
        #expect(!queue.push(job("late", log: log)))
        #expect(names(queue.popBatch(timeout: 0), log) == ["outcome"])
        #expect(queue.isClosedAndEmpty)
    }
}
