import Config
import Logging
import MailCore
import Outbox

/// Decides when mail is sent and over how many connections (SPEC §4).
///
/// - Grouped companies: a tick every 2 seconds claims every due message (in batches, fairly between
///   companies) and files it in the lane of its relay; one connection drains a lane, more (up to
///   `relay_connections`) when over 100 messages wait.
/// - Immediate companies: `submitted(id:company:)` hands a message over the moment its enqueue
///   commits; it is claimed at once and sent on a connection of its own. Their retries come with the tick.
/// - Never more than `max_connections` connections at once, never more than `relay_connections` to one
///   relay, so a dead relay cannot take every connection from the others.
///
/// The scheduler loop and the delivery workers are dedicated threads; only in-memory bookkeeping is
/// shared, under one lock.
public final class Dispatcher: Sendable {
    /// Seconds between ticks of grouped delivery (SPEC §4).
    public static let tickInterval = 2.0
    /// Messages one grouped connection sends before it goes back in the round-robin, so many relays
    /// share the connections fairly.
    static let jobQuota = 500
    /// Claimed messages kept in memory at most; the rest stays in the outbox until there is room.
    static let highWater = 4000
    /// Claimed per transaction: small enough that enqueues never wait long behind a claim.
    static let claimBatch = 50

    let outbox: Outbox
    let configuration: ConfigurationStore
    let logger: Logger
    let lock = ConditionLock()
    /// Guarded by `lock`.
    nonisolated(unsafe) var state: SchedulerState
    nonisolated(unsafe) var pendingImmediate: [(id: Int64, company: String?)] = []
    /// Relays whose last connection attempt failed, until when (monotonic seconds) nothing more is
    /// claimed for them: one failed attempt stands for all their mail, and a dead relay is probed, not flooded.
    nonisolated(unsafe) var relayDownUntil: [RelayKey: Double] = [:]
    nonisolated(unsafe) var wakeRequested = false
    nonisolated(unsafe) var stopping = false
    nonisolated(unsafe) var workers = 0
    nonisolated(unsafe) var runningWorkers = 0
    /// Monotonic seconds of the scheduler loop's last turn, for the watchdog.
    public let heartbeat = Locked<Double>(monotonicSeconds())
    private let loopDone = Latch<Bool>()

    public init(outbox: Outbox, configuration: ConfigurationStore, logger: Logger) {
        self.outbox = outbox
        self.configuration = configuration
        self.logger = logger
        let daemon = configuration.current.daemon
        state = SchedulerState(maxConnections: daemon.maxConnections, relayConnections: daemon.relayConnections)
    }

    /// Starts the scheduler loop and the delivery threads.
    public func start() {
        lock.withLock { ensureWorkers(configuration.current.daemon.maxConnections) }
        let done = loopDone
        DedicatedThread.start(name: "dispatch-scheduler") { [self] in
            schedulerLoop()
            done.set(true)
        }
    }

    /// Called after an enqueue commits: a message of an immediate company is sent at once.
    public func submitted(id: Int64, company: String?) {
        guard !configuration.current.policy(for: company).group else { return }
        lock.withLock {
            pendingImmediate.append((id, company))
            wakeRequested = true
            lock.broadcast()
        }
    }

    /// A connection to `relay` failed: claim nothing more for it for a while (the retry's first delay,
    /// at most a minute).
    func relayFailed(_ relay: RelaySettings, reason: String) {
        let backoff = min(Double(configuration.current.retry.minDelay), 60)
        let wasUp = lock.withLock { () -> Bool in
            let wasUp = (relayDownUntil[relay.key] ?? 0) <= monotonicSeconds()
            relayDownUntil[relay.key] = monotonicSeconds() + backoff
            return wasUp
        }
        if wasUp {
            logger.notice(
                "relay unreachable",
                metadata: ["event": "relay_down", "relay": "\(relay.endpoint)", "reply": "\(reason)", "retry_in": "\(Int(backoff))"])
        }
    }

    /// A connection to `relay` succeeded.
    func relayReachable(_ relay: RelaySettings) {
        let wasDown = lock.withLock { relayDownUntil.removeValue(forKey: relay.key) != nil }
        if wasDown { logger.notice("relay reachable", metadata: ["event": "relay_up", "relay": "\(relay.endpoint)"]) }
    }

    /// The relays not to claim for now (the lock must be held).
    private func downRelays() -> Set<RelayKey> {
        let now = monotonicSeconds()
        return Set(relayDownUntil.filter { $0.value > now }.keys)
    }

    /// Tries again now (after `flush` or `retry` made messages due): relays that failed recently are no
    /// longer skipped, and the scheduler wakes.
    public func retryNow() {
        lock.withLock {
            // Expired, not forgotten: the next successful connection still logs the relay as back.
            for key in relayDownUntil.keys { relayDownUntil[key] = 0 }
            wakeRequested = true
            lock.broadcast()
        }
    }

    /// Applies the limits of a reloaded configuration.
    public func configurationChanged() {
        let daemon = configuration.current.daemon
        lock.withLock {
            state.maxConnections = daemon.maxConnections
            state.relayConnections = daemon.relayConnections
            ensureWorkers(daemon.maxConnections)
            wakeRequested = true
            lock.broadcast()
        }
    }

    /// Graceful stop: no new transactions; those in flight finish (each bounded by its relay's timeout);
    /// claimed messages not yet attempted go back to the queue. Returns when the workers have ended or
    /// `deadline` (monotonic seconds) has passed.
    public func stop(deadline: Double) {
        let waiting: [ClaimedMessage] = lock.withLock {
            stopping = true
            lock.broadcast()
            let all = state.takeAllWaiting()
            state.messageFinished(count: all.count)
            return all
        }
        do {
            try outbox.releaseBlocking(ids: waiting.map(\.id))
        } catch {
            logger.error("release failed", metadata: ["event": "release_failed", "error": "\(error)"])
        }
        _ = loopDone.wait(seconds: max(0, deadline - monotonicSeconds()))
        lock.withLock {
            while runningWorkers > 0 {
                let left = deadline - monotonicSeconds()
                if left <= 0 { break }
                lock.wait(seconds: left)
            }
        }
    }

    /// Monotonic seconds of the scheduler loop's last turn.
    public var lastHeartbeat: Double { heartbeat.current }

    // MARK: Scheduler loop

    private func schedulerLoop() {
        var nextTick = monotonicSeconds()
        var moreDue = false
        var nextSweep = monotonicSeconds() + 5
        while true {
            heartbeat.withLock { $0 = monotonicSeconds() }
            let (ids, stop, tick) = lock.withLock { () -> ([(id: Int64, company: String?)], Bool, Bool) in
                while !stopping && !wakeRequested && pendingImmediate.isEmpty {
                    let now = monotonicSeconds()
                    let roomToClaim = moreDue && state.held < Dispatcher.highWater / 2
                    if now >= nextTick || roomToClaim { break }
                    lock.wait(seconds: min(1, nextTick - now))
                    heartbeat.withLock { $0 = monotonicSeconds() }
                }
                wakeRequested = false
                let ids = pendingImmediate
                pendingImmediate.removeAll()
                let now = monotonicSeconds()
                return (ids, stopping, now >= nextTick || (moreDue && state.held < Dispatcher.highWater / 2))
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

    private var leaseSeconds: Int { 600 + 2 * configuration.current.smtp.relay.timeout }

    private func claimImmediate(_ submitted: [(id: Int64, company: String?)]) {
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
    private func claimDue() -> Bool {
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

    private func file(_ claimed: [ClaimedMessage]) {
        guard !claimed.isEmpty else { return }
        let config = configuration.current
        lock.withLock {
            state.add(claimed, policy: { config.policy(for: $0) })
            lock.broadcast()
        }
    }

    /// Deletes expired final messages, a small batch per transaction so enqueues never wait long.
    private func sweep() {
        let retention = configuration.current.daemon.retention
        do {
            var total = 0
            while true {
                let n = try outbox.sweepBlocking(retention: retention)
                total += n
                if n < 500 { break }
            }
            if total > 0 {
                logger.info("swept", metadata: ["event": "swept", "count": "\(total)"])
            }
        } catch {
            logger.error("sweep failed", metadata: ["event": "sweep_failed", "error": "\(error)"])
        }
    }

    // MARK: Workers

    /// Starts delivery threads until there are `count` (called with the lock held).
    private func ensureWorkers(_ count: Int) {
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
                lock.wait()
            }
        }
    }

    /// The next message of a grouped lane, unless stopping.
    func nextGrouped(_ key: RelayKey) -> (ClaimedMessage, RelayPolicy)? {
        lock.withLock { stopping ? nil : state.popGrouped(key) }
    }

    func drainLane(_ key: RelayKey) -> [ClaimedMessage] {
        lock.withLock { state.drainLane(key) }
    }

    func messagesFinished(_ count: Int) {
        lock.withLock {
            state.messageFinished(count: count)
            lock.broadcast()
        }
    }

    func jobFinished(_ job: DeliveryJob) {
        lock.withLock {
            state.jobFinished(job)
            lock.broadcast()
        }
    }

    var isStopping: Bool { lock.withLock { stopping } }
}
