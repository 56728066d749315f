import Config
import Logging
import MailCore
import Outbox

/// What the delivery threads ask of the dispatcher, under its lock.
extension Dispatcher {

    /// Starts delivery threads until there are `count` (called with the lock held).
    func ensureWorkers(_ count: Int) {
        while workers < count {
            workers += 1
            runningWorkers += 1
            DedicatedThread.start(name: "delivery") { [self] in
                var worker = DeliveryWorker(dispatcher: self)
                worker.run()
                lock.withLock {
                    runningWorkers -= 1
                    lock.broadcast()
                }
            }
        }
    }

    /// Blocks a worker until a job may start; nil when stopping.
    func waitForJob() -> DeliveryJob? {
        lock.withLock {
            while true {
                if stopping { return nil }
                if let job = state.nextJob(quota: Dispatcher.jobQuota) { return job }
                jobsReady.wait()
            }
        }
    }

    /// The next message of a grouped lane, unless stopping, or unless the job, on its connection for
    /// `Dispatcher.yieldAfter` seconds since `started`, should leave it to a relay that has none.
    func nextGrouped(_ key: RelayKey, started: Double? = nil) -> (ClaimedMessage, RelayPolicy)? {
        lock.withLock {
            if stopping { return nil }
            if let started, monotonicSeconds() - started >= Dispatcher.yieldAfter, state.shouldYield(key) { return nil }
            return state.popGrouped(key)
        }
    }

    func drainLane(_ key: RelayKey) -> [ClaimedMessage] {
        lock.withLock { state.drainLane(key) }
    }

    func drainImmediate(_ key: RelayKey) -> [ClaimedMessage] {
        lock.withLock { state.drainImmediate(key) }
    }

    /// Room to claim more: only the scheduler cares.
    func messagesFinished(_ count: Int) {
        lock.withLock {
            state.messageFinished(count: count)
            lock.broadcast()
        }
    }

    /// A connection is free again: one more job may start.
    func jobFinished(_ job: DeliveryJob) {
        lock.withLock {
            state.jobFinished(job)
            jobsReady.signal()
        }
    }
}
