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
    /// A grouped job on its connection this long leaves it when every connection is in use and another
    /// relay has mail and none (`SchedulerState.shouldYield`).
    static let yieldAfter = 1.0
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
    /// Guards the state below. Its own condition wakes the scheduler (and `stop`, waiting for the workers);
    /// `jobsReady` wakes delivery threads waiting for a job, so finishing a message does not wake them all.
    let lock = ConditionLock()
    let jobsReady: ConditionLock.Condition
    /// Guarded by `lock`.
    nonisolated(unsafe) var state: SchedulerState
    nonisolated(unsafe) var pendingImmediate: [(id: Int64, company: String?)] = []
    /// Relays whose last connection attempt failed, until when (monotonic seconds) nothing more is
    /// claimed for them: one failed attempt stands for all their mail, and a dead relay is probed, not flooded.
    nonisolated(unsafe) var relayDownUntil: [RelayKey: Double] = [:]
    nonisolated(unsafe) var wakeRequested = false
    /// Set by `retryNow`: claim due mail now rather than at the next tick.
    nonisolated(unsafe) var claimRequested = false
    nonisolated(unsafe) var stopping = false
    nonisolated(unsafe) var workers = 0
    nonisolated(unsafe) var runningWorkers = 0
    /// Monotonic seconds of the scheduler loop's last turn, for the watchdog.
    public let heartbeat = Locked<Double>(monotonicSeconds())
    let loopDone = Latch<Bool>()

    public init(outbox: Outbox, configuration: ConfigurationStore, logger: Logger) {
        self.outbox = outbox
        self.configuration = configuration
        self.logger = logger
        let daemon = configuration.current.daemon
        state = SchedulerState(maxConnections: daemon.maxConnections, relayConnections: daemon.relayConnections)
        jobsReady = lock.makeCondition()
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
        let wasUp = lock.withLock { () -> Bool? in
            // Stopping ends every wait, a connect's too: that says nothing of the relay.
            if stopping { return nil }
            let wasUp = (relayDownUntil[relay.key] ?? 0) <= monotonicSeconds()
            relayDownUntil[relay.key] = monotonicSeconds() + backoff
            return wasUp
        }
        if wasUp == true {
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
    func downRelays() -> Set<RelayKey> {
        let now = monotonicSeconds()
        return Set(relayDownUntil.filter { $0.value > now }.keys)
    }

    /// Tries again now (after `flush` or `retry` made messages due): relays that failed recently are no
    /// longer skipped, and the scheduler wakes.
    public func retryNow() {
        lock.withLock {
            // Expired, not forgotten: the next successful connection still logs the relay as back.
            for key in relayDownUntil.keys { relayDownUntil[key] = 0 }
            claimRequested = true
            lock.broadcast()
        }
    }

    /// Applies the limits of a reloaded configuration.
    public func configurationChanged() {
        let config = configuration.current
        let daemon = config.daemon
        lock.withLock {
            state.maxConnections = daemon.maxConnections
            state.relayConnections = daemon.relayConnections
            // Claimed mail not yet on a connection follows its company to the relay now in force.
            state.refile(policy: { config.policy(for: $0) })
            ensureWorkers(daemon.maxConnections)
            wakeRequested = true
            lock.broadcast()
            jobsReady.broadcast()
        }
    }

    /// Takes message `id` back if it is claimed but still waits for a connection; true when it did (the
    /// caller then puts it back in the outbox's queue, or cancels it).
    public func withdraw(id: Int64) -> Bool {
        lock.withLock { state.withdraw(id: id) != nil }
    }

    /// Graceful stop: no new transactions; those in flight finish (each bounded by its relay's timeout);
    /// claimed messages not yet attempted go back to the queue. Returns when the workers have ended or
    /// `deadline` (monotonic seconds) has passed.
    public func stop(deadline: Double) {
        let waiting: [ClaimedMessage] = lock.withLock {
            stopping = true
            lock.broadcast()
            jobsReady.broadcast()
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
}
