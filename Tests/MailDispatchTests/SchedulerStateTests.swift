import Testing

@testable import Config
@testable import MailCore
@testable import MailDispatch
@testable import Outbox

@Suite struct SchedulerStateTests {
    static func policy(_ host: String, group: Bool = true) -> RelayPolicy {
        RelayPolicy(relay: RelaySettings(host: host), group: group)
    }

    static func messages(_ count: Int, company: String, from start: Int64 = 0) -> [ClaimedMessage] {
        (0..<count).map { i in
            ClaimedMessage(
                id: start + Int64(i), company: company, envelopeFrom: "s@x", recipients: [], size: 10,
                needsSMTPUTF8: false, has8BitData: false, ageFrom: Timestamp(seconds: 0), attempts: 0)
        }
    }

    /// acme → relay A grouped, beta → relay B grouped, now → relay A immediate, dead → relay D immediate.
    static func route(_ company: String?) -> RelayPolicy {
        switch company {
        case "acme": return policy("a")
        case "beta": return policy("b")
        case "now": return policy("a", group: false)
        default: return policy("d", group: false)
        }
    }

    @Test func aMessageWaitingForAConnectionCanBeWithdrawn() {
        var s = SchedulerState(maxConnections: 8, relayConnections: 1)
        s.add(Self.messages(3, company: "now", from: 10) + Self.messages(3, company: "acme", from: 20), policy: Self.route)
        #expect(s.held == 6)
        #expect(s.withdraw(id: 11)?.id == 11)
        #expect(s.withdraw(id: 21)?.id == 21)
        #expect(s.withdraw(id: 11) == nil && s.withdraw(id: 99) == nil)
        #expect(s.held == 4)
        var immediate: [Int64] = []
        var grouped: [Int64] = []
        while let job = s.nextJob(quota: 500) {
            switch job {
            case .immediate(let message, _): immediate.append(message.id)
            case .grouped(let key, _): while let (message, _) = s.popGrouped(key) { grouped.append(message.id) }
            }
            s.jobFinished(job)
        }
        #expect(immediate == [10, 12] && grouped == [20, 22])
    }

    @Test func aReloadMovesWaitingMessagesToTheRelayNowInForce() {
        var s = SchedulerState(maxConnections: 8, relayConnections: 1)
        s.add(Self.messages(2, company: "acme", from: 1) + Self.messages(2, company: "now", from: 5), policy: Self.route)
        // acme's first message is on a connection to relay a; the rest wait.
        guard case .grouped(let a, _)? = s.nextJob(quota: 500) else { Issue.record("no job"); return }
        #expect(s.popGrouped(a)?.0.id == 1)
        // The reload: acme and now move to relay b.
        s.refile { company in company == "acme" || company == "now" ? Self.policy("b", group: company == "acme") : Self.route(company) }
        #expect(s.held == 4)
        var moved: [Int64] = []
        while let job = s.nextJob(quota: 500) {
            #expect(job.relayKey == Self.policy("b").relay.key)
            switch job {
            case .immediate(let message, _): moved.append(message.id)
            case .grouped(let key, _): while let (message, _) = s.popGrouped(key) { moved.append(message.id) }
            }
            s.jobFinished(job)
        }
        #expect(moved.sorted() == [2, 5, 6])
    }

    @Test func theLastConnectionIsKeptForARelayWithoutOne() {
        // Relays a and b hang (their connections never end); then c's mail comes.
        var s = SchedulerState(maxConnections: 8, relayConnections: 4)
        s.add(Self.messages(400, company: "acme") + Self.messages(400, company: "beta"), policy: Self.route)
        var opened: [RelayKey: Int] = [:]
        while let job = s.nextJob(quota: 500) { opened[job.relayKey, default: 0] += 1 }
        #expect(opened[Self.policy("a").relay.key] == 4 && opened[Self.policy("b").relay.key] == 3)
        s.add(Self.messages(10, company: "gamma"), policy: { _ in Self.policy("c", group: false) })
        #expect(s.nextJob(quota: 500)?.relayKey == Self.policy("c", group: false).relay.key)
        #expect(s.nextJob(quota: 500) == nil)

        // One relay alone may use every connection.
        var alone = SchedulerState(maxConnections: 8, relayConnections: 8)
        alone.add(Self.messages(1000, company: "acme"), policy: Self.route)
        var count = 0
        while alone.nextJob(quota: 500) != nil { count += 1 }
        #expect(count == 8)
    }

    @Test func oneConnectionPerGroupedRelayUpToOneHundredMessages() {
        var s = SchedulerState(maxConnections: 8, relayConnections: 4)
        s.add(Self.messages(100, company: "acme"), policy: Self.route)
        #expect(s.nextJob(quota: 500) == .grouped(Self.policy("a").relay.key, quota: 500))
        #expect(s.nextJob(quota: 500) == nil)
    }

    @Test func moreThanOneHundredSpreadsOverRelayConnections() {
        var s = SchedulerState(maxConnections: 8, relayConnections: 4)
        s.add(Self.messages(1000, company: "acme"), policy: Self.route)
        var jobs: [DeliveryJob] = []
        while let job = s.nextJob(quota: 500) { jobs.append(job) }
        #expect(jobs.count == 4)
        #expect(s.activeByRelay[Self.policy("a").relay.key] == 4)
    }

    @Test func neverMoreThanMaxConnectionsAndADeadRelayLeavesRoomForOthers() {
        var s = SchedulerState(maxConnections: 10, relayConnections: 4)
        s.add(Self.messages(50, company: "dead"), policy: Self.route)  // 50 immediate messages to relay d
        s.add(Self.messages(500, company: "beta", from: 1000), policy: Self.route)
        var jobs: [DeliveryJob] = []
        while let job = s.nextJob(quota: 500) { jobs.append(job) }
        // relay_connections caps each relay: the dead one can hold 4 connections, never all of them.
        #expect(jobs.filter { $0.relayKey == Self.policy("d").relay.key }.count == 4)
        #expect(jobs.filter { $0.relayKey == Self.policy("b").relay.key }.count == 4)
        #expect(s.active == 8)
        s.add(Self.messages(5, company: "acme", from: 2000), policy: Self.route)
        #expect(s.nextJob(quota: 500)?.relayKey == Self.policy("a").relay.key)
        #expect(s.nextJob(quota: 500) == nil)  // a free slot, but every relay with work is at its share
        var full = SchedulerState(maxConnections: 2, relayConnections: 2)
        full.add(Self.messages(500, company: "beta"), policy: Self.route)
        #expect(full.nextJob(quota: 500) != nil && full.nextJob(quota: 500) != nil && full.nextJob(quota: 500) == nil)
    }

    @Test func roundRobinGivesEveryRelayATurn() {
        var s = SchedulerState(maxConnections: 2, relayConnections: 2)
        s.add(Self.messages(500, company: "acme"), policy: Self.route)
        s.add(Self.messages(5, company: "beta", from: 1000), policy: Self.route)
        let first = s.nextJob(quota: 500)!
        let second = s.nextJob(quota: 500)!
        #expect(Set([first.relayKey, second.relayKey]).count == 2)
    }

    @Test func immediateMessagesEachGetAJob() {
        var s = SchedulerState(maxConnections: 8, relayConnections: 4)
        s.add(Self.messages(3, company: "now"), policy: Self.route)
        var ids: [Int64] = []
        while case .immediate(let m, _)? = s.nextJob(quota: 500) { ids.append(m.id) }
        #expect(ids == [0, 1, 2])
    }

    @Test func immediateMailOfAHangingRelayDoesNotHoldUpAnotherRelays() {
        // 100 immediate messages for relay d, whose connections never end; then 10 for relay a.
        var s = SchedulerState(maxConnections: 8, relayConnections: 4)
        s.add(Self.messages(100, company: "dead"), policy: Self.route)
        s.add(Self.messages(10, company: "now", from: 1000), policy: Self.route)
        var opened: [RelayKey: Int] = [:]
        while let job = s.nextJob(quota: 500) { opened[job.relayKey, default: 0] += 1 }
        // d at its relay_connections; a gets the rest (the last one is kept for a relay without one).
        #expect(opened[Self.policy("d").relay.key] == 4 && opened[Self.policy("a").relay.key] == 3)
        // d's connection fails: what waits for it is taken at once (to be deferred), a's still waits.
        #expect(s.drainImmediate(Self.policy("d").relay.key).count == 96)
        #expect(s.waiting == 7)
    }

    @Test func aCompanyWithFewMessagesTakesTurnsWithABacklog() {
        var s = SchedulerState(maxConnections: 8, relayConnections: 4)
        s.add(Self.messages(5000, company: "acme"), policy: Self.route)
        s.add(Self.messages(5, company: "acme-small", from: 10_000), policy: { _ in Self.policy("a") })
        guard case .grouped(let key, _)? = s.nextJob(quota: 500) else { Issue.record("no job"); return }
        var firstTen: [Int64] = []
        for _ in 0..<10 { firstTen.append(s.popGrouped(key)!.0.id) }
        #expect(firstTen.filter { $0 >= 10_000 } == [10_000, 10_001, 10_002, 10_003, 10_004])
        #expect(firstTen.filter { $0 < 10_000 } == [0, 1, 2, 3, 4])  // each company in its own order

        var fair = FairQueue<Int>()
        for i in 0..<3 { fair.append(i, company: "x") }
        fair.append(10, company: nil)
        #expect(fair.removeFirst(where: { $0 == 1 }) == 1 && fair.count == 3)
        #expect(fair.removeAll() == [0, 10, 2] && fair.isEmpty && fair.popFirst() == nil)
    }

    @Test func aRelayWithoutAConnectionComesFirstAndBusyRelaysYieldToIt() {
        // Every connection is taken by slow relays a and b; then relay c's mail comes.
        var s = SchedulerState(maxConnections: 2, relayConnections: 2)
        s.add(Self.messages(400, company: "acme") + Self.messages(400, company: "beta", from: 1000), policy: Self.route)
        while s.nextJob(quota: 500) != nil {}
        #expect(s.active == 2 && s.activeByRelay.count == 2)
        let a = Self.policy("a").relay.key
        #expect(!s.shouldYield(a))
        s.add(Self.messages(5, company: "gamma", from: 5000), policy: { _ in Self.policy("c") })
        #expect(s.shouldYield(a))
        s.jobFinished(.grouped(a, quota: 500))  // a's job left its connection
        // The free connection goes to c, which has none, before a or b get another.
        #expect(s.nextJob(quota: 500)?.relayKey == Self.policy("c").relay.key)
        #expect(!s.shouldYield(a))
    }

    @Test func heldCountsClaimedUntilFinished() {
        var s = SchedulerState(maxConnections: 8, relayConnections: 4)
        s.add(Self.messages(10, company: "acme"), policy: Self.route)
        #expect(s.held == 10)
        let key = Self.policy("a").relay.key
        _ = s.nextJob(quota: 500)
        var popped = 0
        while s.popGrouped(key) != nil { popped += 1 }
        #expect(popped == 10)
        s.messageFinished(count: 10)
        #expect(s.held == 0)
        #expect(s.takeAllWaiting().isEmpty)
    }

    @Test func ringBufferKeepsOrder() {
        var r = RingBuffer<Int>()
        for i in 0..<100 { r.append(i) }
        for _ in 0..<50 { _ = r.popFirst() }
        for i in 100..<150 { r.append(i) }
        r.prepend(49)
        var out: [Int] = []
        while let x = r.popFirst() { out.append(x) }
        #expect(out == Array(49..<150))
    }
}
