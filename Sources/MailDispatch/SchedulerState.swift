import Config
import MailCore
import Outbox

/// A unit of work for one delivery thread and one SMTP connection.
enum DeliveryJob: Sendable, Equatable {
    /// Drain up to `quota` messages of a grouped relay lane over one connection.
    case grouped(RelayKey, quota: Int)
    /// One message on a connection of its own.
    case immediate(ClaimedMessage, RelayPolicy)

    var relayKey: RelayKey {
        switch self {
        case .grouped(let key, _): return key
        case .immediate(_, let policy): return policy.relay.key
        }
    }
}

/// The dispatcher's bookkeeping, as a pure value: which claimed messages wait for which relay, how
/// many connections are open, and which job comes next. Fairness and limits live here, so they are
/// tested without sockets.
struct SchedulerState {
    /// Grouped messages waiting for one relay.
    struct Lane {
        var policy: RelayPolicy
        var queue = FairQueue<ClaimedMessage>()
        /// Grouped connections draining this lane.
        var connections = 0
    }

    /// A lane may use more than one connection only past this many waiting messages (SPEC §4).
    static let spreadThreshold = 100

    var maxConnections: Int
    var relayConnections: Int
    private(set) var lanes: [RelayKey: Lane] = [:]
    private var laneOrder: [RelayKey] = []
    /// Immediate messages waiting, per relay: a relay at its connection limit (hanging, slow) holds up
    /// only its own; the relays take turns (`immediateCursor`).
    private var immediate: [RelayKey: FairQueue<(ClaimedMessage, RelayPolicy)>] = [:]
    private var immediateOrder: [RelayKey] = []
    private var immediateCursor = 0
    /// Open connections, all relays together, and per relay.
    private(set) var active = 0
    private(set) var activeByRelay: [RelayKey: Int] = [:]
    /// Claimed messages not yet finished (waiting or in a job).
    private(set) var held = 0
    /// Round-robin position over lanes (and the immediate queue, at index lanes.count).
    private var cursor = 0

    init(maxConnections: Int, relayConnections: Int) {
        self.maxConnections = maxConnections
        self.relayConnections = relayConnections
    }

    /// Files claimed messages by the settings that govern them now.
    mutating func add(_ messages: [ClaimedMessage], policy: (String?) -> RelayPolicy) {
        for message in messages {
            let p = policy(message.company)
            held += 1
            if p.group {
                let key = p.relay.key
                if lanes[key] == nil {
                    lanes[key] = Lane(policy: p)
                    laneOrder.append(key)
                }
                // The latest settings win for messages not yet sent (SPEC §2.4).
                lanes[key]!.policy = p
                lanes[key]!.queue.append(message, company: message.company)
            } else {
                let key = p.relay.key
                if immediate[key] == nil {
                    immediate[key] = FairQueue()
                    immediateOrder.append(key)
                }
                immediate[key]!.append((message, p), company: message.company)
            }
        }
    }

    var waiting: Int { lanes.values.reduce(0) { $0 + $1.queue.count } + immediate.values.reduce(0) { $0 + $1.count } }

    private func relayHasRoom(_ key: RelayKey) -> Bool {
        guard activeByRelay[key, default: 0] < relayConnections else { return false }
        // The last free connection goes to a relay that has none, while another relay is in use or has
        // mail waiting: relays that hang cannot then take every connection between them (SPEC §4).
        if active == maxConnections - 1 && maxConnections > 1 && activeByRelay[key, default: 0] > 0 {
            return !othersBusy(key)
        }
        return true
    }

    /// Whether a relay other than `key` has a connection or mail waiting.
    private func othersBusy(_ key: RelayKey) -> Bool {
        if activeByRelay.keys.contains(where: { $0 != key }) { return true }
        if lanes.contains(where: { $0.key != key && !$0.value.queue.isEmpty }) { return true }
        return immediate.keys.contains { $0 != key }
    }

    /// Whether a relay other than `key` has mail waiting and no connection at all.
    func othersStarving(_ key: RelayKey) -> Bool {
        lanes.contains { $0.key != key && !$0.value.queue.isEmpty && activeByRelay[$0.key] == nil }
            || immediate.keys.contains { $0 != key && activeByRelay[$0] == nil }
    }

    /// Whether a grouped job on `key` should end early: every connection is in use and another relay has
    /// mail and none. Slow but working relays would otherwise keep their connections for a whole quota
    /// while another relay's mail waits (SPEC §4: a slow relay does not hold back the others).
    func shouldYield(_ key: RelayKey) -> Bool {
        active >= maxConnections && othersStarving(key)
    }

    /// The next job to start, if a connection slot is free and some work may use it. Relays without a
    /// connection come first.
    mutating func nextJob(quota: Int) -> DeliveryJob? {
        guard active < maxConnections else { return nil }
        return nextJob(quota: quota, onlyIdleRelays: true) ?? nextJob(quota: quota, onlyIdleRelays: false)
    }

    private mutating func nextJob(quota: Int, onlyIdleRelays: Bool) -> DeliveryJob? {
        let candidates = laneOrder.count + 1
        for step in 0..<candidates {
            let index = (cursor + step) % candidates
            if index == laneOrder.count {
                if let job = takeImmediate(onlyIdleRelays: onlyIdleRelays) {
                    cursor = (index + 1) % candidates
                    return job
                }
                continue
            }
            let key = laneOrder[index]
            guard let lane = lanes[key], !lane.queue.isEmpty, relayHasRoom(key) else { continue }
            if onlyIdleRelays && activeByRelay[key] != nil { continue }
            let wantsAnother = lane.connections == 0
                || (lane.queue.count > SchedulerState.spreadThreshold && lane.connections < relayConnections)
            guard wantsAnother else { continue }
            lanes[key]!.connections += 1
            open(key)
            cursor = (index + 1) % candidates
            return .grouped(key, quota: quota)
        }
        return nil
    }

    /// The next immediate message of a relay that has room, the relays taking turns.
    private mutating func takeImmediate(onlyIdleRelays: Bool) -> DeliveryJob? {
        let relays = immediateOrder.count
        for step in 0..<relays {
            let index = (immediateCursor + step) % relays
            let key = immediateOrder[index]
            guard relayHasRoom(key), !onlyIdleRelays || activeByRelay[key] == nil,
                let (message, policy) = immediate[key]?.popFirst()
            else { continue }
            open(key)
            immediateCursor = index + 1
            forgetIfEmpty(key)
            return .immediate(message, policy)
        }
        return nil
    }

    private mutating func forgetIfEmpty(_ key: RelayKey) {
        guard immediate[key]?.isEmpty == true else { return }
        immediate[key] = nil
        if let index = immediateOrder.firstIndex(of: key) {
            immediateOrder.remove(at: index)
            if immediateCursor > index { immediateCursor -= 1 }
        }
    }

    /// Takes every immediate message waiting for `key` (its relay is unreachable: they fail the same way).
    mutating func drainImmediate(_ key: RelayKey) -> [ClaimedMessage] {
        guard var queue = immediate[key] else { return [] }
        let drained = queue.removeAll().map(\.0)
        immediate[key] = queue
        forgetIfEmpty(key)
        return drained
    }

    private mutating func open(_ key: RelayKey) {
        active += 1
        activeByRelay[key, default: 0] += 1
    }

    /// The next message of a grouped lane, with the lane's current settings.
    mutating func popGrouped(_ key: RelayKey) -> (ClaimedMessage, RelayPolicy)? {
        guard let message = lanes[key]?.queue.popFirst() else { return nil }
        return (message, lanes[key]!.policy)
    }

    /// Takes every waiting message of a lane (its relay is unreachable: they all fail the same way).
    mutating func drainLane(_ key: RelayKey) -> [ClaimedMessage] {
        guard var lane = lanes[key] else { return [] }
        let drained = lane.queue.removeAll()
        lanes[key] = lane
        return drained
    }

    /// The policy a grouped lane uses now.
    func policy(of key: RelayKey) -> RelayPolicy? { lanes[key]?.policy }

    /// A claimed message has been attempted (or released).
    mutating func messageFinished(count: Int = 1) { held -= count }

    /// A job's connection is closed.
    mutating func jobFinished(_ job: DeliveryJob) {
        let key = job.relayKey
        active -= 1
        activeByRelay[key, default: 1] -= 1
        if activeByRelay[key] == 0 { activeByRelay[key] = nil }
        if case .grouped = job {
            lanes[key]!.connections -= 1
            if lanes[key]!.connections == 0 && lanes[key]!.queue.isEmpty {
                lanes[key] = nil
                laneOrder.removeAll { $0 == key }
                cursor = 0
            }
        }
    }

    /// Takes message `id` if it waits for a connection (claimed, nothing sent): it can still be cancelled.
    mutating func withdraw(id: Int64) -> ClaimedMessage? {
        for key in immediateOrder {
            if let (message, _) = immediate[key]?.removeFirst(where: { $0.0.id == id }) {
                forgetIfEmpty(key)
                held -= 1
                return message
            }
        }
        for key in laneOrder {
            if let message = lanes[key]?.queue.removeFirst(where: { $0.id == id }) {
                held -= 1
                return message
            }
        }
        return nil
    }

    /// Files every waiting message again by the settings in force now (after a reload): one that waited
    /// for a relay its company no longer uses moves to the one it does (SPEC §2.4).
    mutating func refile(policy: (String?) -> RelayPolicy) {
        let waiting = takeAllWaiting()
        held -= waiting.count
        // Lanes without a connection are empty now: forget them (a lane with one ends with its job).
        for key in laneOrder where lanes[key]?.connections == 0 { lanes[key] = nil }
        laneOrder.removeAll { lanes[$0] == nil }
        cursor = 0
        add(waiting, policy: policy)
    }

    /// Takes every waiting message (graceful stop: they go back to the queue).
    mutating func takeAllWaiting() -> [ClaimedMessage] {
        var all: [ClaimedMessage] = []
        for key in laneOrder { all += drainLane(key) }
        for key in immediateOrder { all += immediate[key]!.removeAll().map(\.0) }
        immediate = [:]
        immediateOrder = []
        immediateCursor = 0
        return all
    }
}
