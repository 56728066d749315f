import Config
import Logging
import MailCore
import Outbox

/// The scheduler thread: ticks, claims and the retention sweep.
extension Dispatcher {

    func schedulerLoop() {
        var nextTick = monotonicSeconds()
        var moreDue = false
        var nextSweep = monotonicSeconds() + 5
        // More may be due, and claims have room again (the lock must be held).
        func roomToClaim() -> Bool { moreDue && state.held < Dispatcher.highWater / 2 }
        while true {
            heartbeat.withLock { $0 = monotonicSeconds() }
            let (ids, stop, tick) = lock.withLock { () -> ([(id: Int64, company: String?)], Bool, Bool) in
                while !stopping && !wakeRequested && !claimRequested && pendingImmediate.isEmpty {
                    let now = monotonicSeconds()
                    if now >= nextTick || roomToClaim() { break }
                    lock.wait(seconds: min(1, nextTick - now))
                    heartbeat.withLock { $0 = monotonicSeconds() }
                }
                wakeRequested = false
                let ids = pendingImmediate
                pendingImmediate.removeAll()
                let now = monotonicSeconds()
                // `flush` and `retry` claim at once, without waiting for the tick.
                let claimNow = claimRequested || now >= nextTick || roomToClaim()
                claimRequested = false
                return (ids, stopping, claimNow)
            }
            if stop { return }
            if !ids.isEmpty { claimImmediate(ids) }
            if tick {
                if monotonicSeconds() >= nextTick { nextTick = monotonicSeconds() + Dispatcher.tickInterval }
                moreDue = claimDue()
            }
            if monotonicSeconds() >= nextSweep {
                nextSweep = monotonicSeconds() + 30
                sweep()
            }
        }
    }

    var leaseSeconds: Int { 600 + 2 * configuration.current.smtp.relay.timeout }

    func claimImmediate(_ submitted: [(id: Int64, company: String?)]) {
        let config = configuration.current
        let down = lock.withLock { downRelays() }
        // Mail for a relay that just failed stays queued; the tick takes it once the relay is probed again.
        let ids = submitted.filter { !down.contains(config.policy(for: $0.company).relay.key) }.map(\.id)
        guard !ids.isEmpty else { return }
        do {
            let claimed = try outbox.claimBlocking(ids: ids, leaseSeconds: leaseSeconds)
            file(claimed)
        } catch {
            logger.error("claim failed", metadata: ["event": "claim_failed", "error": "\(error)"])
        }
    }

    /// Claims due messages while there is room; true when more may be due.
    func claimDue() -> Bool {
        while true {
            let room = lock.withLock { Dispatcher.highWater - state.held }
            guard room > 0 else { return true }
            let want = min(room, Dispatcher.claimBatch)
            let config = configuration.current
            let down = lock.withLock { downRelays() }
            do {
                let claimed = try outbox.claimDueBlocking(limit: want, leaseSeconds: leaseSeconds) { company in
                    down.isEmpty || !down.contains(config.policy(for: company).relay.key)
                }
                file(claimed)
                if claimed.count < want { return false }
            } catch {
                logger.error("claim failed", metadata: ["event": "claim_failed", "error": "\(error)"])
                return false
            }
        }
    }

    func file(_ claimed: [ClaimedMessage]) {
        guard !claimed.isEmpty else { return }
        let config = configuration.current
        lock.withLock {
            state.add(claimed, policy: { config.policy(for: $0) })
            jobsReady.broadcast()
        }
    }

    /// Deletes expired final messages, a small batch per transaction so enqueues never wait long.
    func sweep() {
        let retention = configuration.current.daemon.retention
        do {
            var total = 0
            while true {
                let n = try outbox.sweepBlocking(retention: retention)
                total += n
                if n < Outbox.sweepBatch { break }
            }
            if total > 0 {
                logger.info("swept", metadata: ["event": "swept", "count": "\(total)"])
            }
        } catch {
            logger.error("sweep failed", metadata: ["event": "sweep_failed", "error": "\(error)"])
        }
    }
}
