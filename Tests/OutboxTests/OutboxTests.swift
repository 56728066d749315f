import Foundation
import Logging
import Testing

@testable import MailCore
@testable import Outbox

/// A clock the test moves by hand.
final class TestClock: WallClock, @unchecked Sendable {
    private let value = Locked(Timestamp(seconds: 1_800_000_000))
    func now() -> Timestamp { value.current }
    func advance(seconds: Double) { value.withLock { $0 = $0.adding(seconds: seconds) } }
}

/// A fresh outbox file in its own directory, removed afterwards.
final class OutboxFixture: @unchecked Sendable {
    let directory: String
    let clock = TestClock()
    let outbox: Outbox

    init() throws {
        directory = NSTemporaryDirectory() + "maild-outbox-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        outbox = try Outbox(path: directory + "/outbox.db", clock: clock, logger: Logger(label: "test"))
    }

    deinit {
        outbox.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func message(_ n: Int = 0, company: String? = nil, recipients: [String] = ["a@example.com"], key: String? = nil)
        -> NewMessage
    {
        NewMessage(
            company: company, kind: .user, messageID: "m\(n)@test", envelopeFrom: "s@example.com",
            fromAddress: "s@example.com", subject: "subject \(n)", recipients: recipients,
            data: Array("Subject: \(n)\r\n\r\nbody\r\n".utf8), needsSMTPUTF8: false, has8BitData: false,
            idempotencyKey: key)
    }

    /// The counts `status` answers must equal a recount of the rows.
    func expectCountsExact(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let db = try Database(path: directory + "/outbox.db", readOnly: true)
        let s = try db.statement("SELECT state, count(*) FROM messages GROUP BY state")
        var actual: [MessageState: Int] = [:]
        for state in MessageState.allCases { actual[state] = 0 }
        while try s.step() { actual[MessageState(rawValue: s.string(0)!)!] = s.int(1) }
        s.reset()
        #expect(try await outbox.counts() == actual, sourceLocation: sourceLocation)
    }

    /// Records an outcome for message `id` as claimed now (it must be `sending`), once applied.
    func record(_ id: Int64, _ result: DeliveryResult, policy: RetryPolicy = RetryPolicy(minDelay: 30, maxDelay: 60, maxAge: 100))
        async throws -> MessageVerdict?
    {
        let attempts = try #require(try await outbox.detail(id: id)).attempts.count
        let claim = ClaimedMessage(
            id: id, company: nil, envelopeFrom: "", recipients: [], size: 0, needsSMTPUTF8: false, has8BitData: false,
            ageFrom: Timestamp(seconds: 0), attempts: attempts)
        return try await withCheckedThrowingContinuation { continuation in
            outbox.record([(claim: claim, result: result)], policy: policy, jitter: { 1 }, durable: { _ in }) { result in
                continuation.resume(with: result.map { $0[0] })
            }
        }
    }
}

@Suite struct OutboxTests {
    @Test func enqueueStoresBytesRecipientsAndState() async throws {
        let f = try OutboxFixture()
        let outcome = try await f.outbox.enqueue(f.message(1, company: "acme", recipients: ["a@x.com", "b@y.com"]))
        #expect(!outcome.duplicate)
        let detail = try #require(try await f.outbox.detail(id: outcome.id))
        #expect(detail.summary.state == .queued && detail.summary.company == "acme")
        #expect(detail.summary.to == ["a@x.com", "b@y.com"] && detail.summary.subject == "subject 1")
        #expect(detail.recipients.map(\.state) == [.pending, .pending])
        #expect(try f.outbox.makeDataReader().data(id: outcome.id) == Array("Subject: 1\r\n\r\nbody\r\n".utf8))
        #expect(try await f.outbox.counts()[.queued] == 1)
    }

    @Test func aReaderReadsSeveralMessagesInOneGo() async throws {
        let f = try OutboxFixture()
        let first = try await f.outbox.enqueue(f.message(1)).id
        let second = try await f.outbox.enqueue(f.message(2)).id
        let reader = try f.outbox.makeDataReader()
        let found = try reader.data(ids: [second, 999, first])
        #expect(found == [Array("Subject: 2\r\n\r\nbody\r\n".utf8), nil, Array("Subject: 1\r\n\r\nbody\r\n".utf8)])
        // The read transaction ended: the writer's later commits are seen, and a checkpoint is not held up.
        let third = try await f.outbox.enqueue(f.message(3)).id
        #expect(try reader.data(ids: [third, first]).first == Array("Subject: 3\r\n\r\nbody\r\n".utf8))
    }

    @Test func idempotencyKeyReturnsTheFirstMessagePerCompany() async throws {
        let f = try OutboxFixture()
        let first = try await f.outbox.enqueue(f.message(1, company: "acme", key: "k"))
        let again = try await f.outbox.enqueue(f.message(2, company: "acme", key: "k"))
        let other = try await f.outbox.enqueue(f.message(3, company: "beta", key: "k"))
        #expect(again == EnqueueOutcome(id: first.id, duplicate: true))
        #expect(!other.duplicate && other.id != first.id)
        #expect(try await f.outbox.counts()[.queued] == 2)
    }

    /// A batch runs without savepoints unless a job fails; then it runs again with one per job, so the
    /// failing job alone is undone, whatever it wrote before failing, and the others commit.
    @Test func aFailingJobUndoesOnlyItselfInItsBatch() async throws {
        let f = try OutboxFixture()
        // Hold the writer in a batch of its own while the jobs under test queue up behind it.
        let holding = Latch<Bool>()
        let release = Latch<Bool>()
        f.outbox.writer.perform({ _ in
            holding.set(true)
            _ = release.wait()
        }) { _ in }
        _ = holding.wait()
        let results = Locked<[Int: Result<Int64, OutboxError>]>([:])
        let finished = Latch<Bool>()
        let clock = f.clock
        let jobs: [@Sendable (OutboxStore) throws -> Int64] = [
            { store in try store.enqueue(f.message(1), now: clock.now()).id },
            { store in
                _ = try store.enqueue(f.message(2), now: clock.now())
                throw OutboxError.conflict("failed after writing")
            },
            { store in try store.enqueue(f.message(3), now: clock.now()).id },
            { store in
                try store.cancel(id: 999, now: clock.now())
                return 0
            },
        ]
        for (index, job) in jobs.enumerated() {
            f.outbox.writer.perform(job) { result in
                let count = results.withLock {
                    $0[index] = result
                    return $0.count
                }
                if count == jobs.count { finished.set(true) }
            }
        }
        release.set(true)
        _ = finished.wait()
        let outcome = results.current
        #expect(throws: OutboxError.self) { try outcome[1]?.get() }
        #expect(throws: OutboxError.self) { try outcome[3]?.get() }
        let first = try #require(try outcome[0]?.get())
        let third = try #require(try outcome[2]?.get())
        #expect(try await f.outbox.detail(id: first)?.summary.subject == "subject 1")
        #expect(try await f.outbox.detail(id: third)?.summary.subject == "subject 3")
        let subjects = try await f.outbox.list(ListRequest(state: nil, company: nil, limit: 10)).map(\.subject)
        #expect(subjects.sorted() == ["subject 1", "subject 3"])
        try await f.expectCountsExact()
    }

    @Test func concurrentEnqueuesAllCommit() async throws {
        let f = try OutboxFixture()
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for i in 0..<500 { group.addTask { try await f.outbox.enqueue(f.message(i)).id } }
            return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
        }
        #expect(ids.count == 500)
        #expect(try await f.outbox.counts()[.queued] == 500)
    }

    @Test func claimIsFairBetweenCompaniesAndNeverTwice() async throws {
        let f = try OutboxFixture()
        for i in 0..<300 { _ = try await f.outbox.enqueue(f.message(i, company: "big")) }
        for i in 0..<5 { _ = try await f.outbox.enqueue(f.message(i, company: "small")) }
        for i in 0..<5 { _ = try await f.outbox.enqueue(f.message(i)) }
        let batch = try f.outbox.claimDueBlocking(limit: 30, leaseSeconds: 60)
        #expect(batch.count == 30)
        #expect(batch.filter { $0.company == "small" }.count == 5)
        #expect(batch.filter { $0.company == nil }.count == 5)
        let rest = try f.outbox.claimDueBlocking(limit: 1000, leaseSeconds: 60)
        #expect(rest.count == 280 && Set(rest.map(\.id)).isDisjoint(with: batch.map(\.id)))
        #expect(try await f.outbox.counts()[.sending] == 310)
        #expect(try f.outbox.claimDueBlocking(limit: 10, leaseSeconds: 60).isEmpty)
        try await f.expectCountsExact()
    }

    @Test func recordDeliveredSentAndPartialRetriesOnlyTheRest() async throws {
        let f = try OutboxFixture()
        let id = try await f.outbox.enqueue(f.message(recipients: ["a@x.com", "b@y.com"])).id
        _ = try f.outbox.claimBlocking(ids: [id], leaseSeconds: 60)
        let verdict = try await f.record(
            id, DeliveryResult(relay: "r:25", recipients: [("a@x.com", .delivered("250 ok")), ("b@y.com", .deferred("451 later"))]))
        #expect(verdict?.state == .deferred)
        #expect(try f.outbox.claimDueBlocking(limit: 10, leaseSeconds: 60).isEmpty)  // not due yet
        f.clock.advance(seconds: 31)
        let again = try f.outbox.claimDueBlocking(limit: 10, leaseSeconds: 60)
        #expect(again.map(\.recipients) == [[PendingRecipient(position: 1, address: "b@y.com")]])
        _ = try await f.record(id, DeliveryResult(relay: "r:25", recipients: [("b@y.com", .delivered("250 ok"))]))
        let detail = try #require(try await f.outbox.detail(id: id))
        #expect(detail.summary.state == .sent && detail.summary.attempts == 2)
        #expect(detail.recipients.map(\.state) == [.delivered, .delivered])
        #expect(detail.attempts.map(\.outcome) == ["partial", "delivered"])
        try await f.expectCountsExact()
    }

    @Test func expiryFailsPendingRecipients() async throws {
        let f = try OutboxFixture()
        let id = try await f.outbox.enqueue(f.message()).id
        f.clock.advance(seconds: 101)
        _ = try f.outbox.claimDueBlocking(limit: 1, leaseSeconds: 60)
        let verdict = try await f.record(id, .deferredAll(relay: "r:25", recipients: ["a@example.com"], reason: "timed out"))
        #expect(verdict?.state == .failed && verdict?.expired == true)
        let detail = try #require(try await f.outbox.detail(id: id))
        #expect(detail.recipients[0].state == .failed && detail.recipients[0].reply?.contains("expired") == true)
        try await f.expectCountsExact()
    }

    @Test func uncertainAttemptsShowInDetail() async throws {
        let f = try OutboxFixture()
        let id = try await f.outbox.enqueue(f.message()).id
        _ = try f.outbox.claimBlocking(ids: [id], leaseSeconds: 60)
        _ = try await f.record(
            id, .deferredAll(relay: "r:25", recipients: ["a@example.com"], reason: "connection lost", uncertain: true))
        #expect(try await f.outbox.detail(id: id)?.uncertain == true)
    }

    @Test func cancellingEndsTheRecipientsStillPendingAndKeepsTheDeliveredOnes() async throws {
        let f = try OutboxFixture()
        let id = try await f.outbox.enqueue(f.message(recipients: ["a@x.com", "b@y.com", "c@z.com"])).id
        _ = try f.outbox.claimBlocking(ids: [id], leaseSeconds: 60)
        _ = try await f.record(
            id, DeliveryResult(relay: "r:25", recipients: [("a@x.com", .delivered("250 ok")), ("b@y.com", .deferred("451 later"))]))
        try await f.outbox.cancel(id: id)
        let detail = try #require(try await f.outbox.detail(id: id))
        #expect(detail.summary.state == .cancelled)
        #expect(detail.recipients.map(\.state) == [.delivered, .cancelled, .cancelled])
        #expect(detail.recipients[1].reply == "451 later")  // the last reply stays
    }

    @Test func cancelRetryFlushAndTheirConflicts() async throws {
        let f = try OutboxFixture()
        let queued = try await f.outbox.enqueue(f.message(1)).id
        let sending = try await f.outbox.enqueue(f.message(2)).id
        _ = try f.outbox.claimBlocking(ids: [sending], leaseSeconds: 60)
        try await f.outbox.cancel(id: queued)
        #expect(try await f.outbox.detail(id: queued)?.summary.state == .cancelled)
        await #expect(throws: OutboxError.self) { try await f.outbox.cancel(id: sending) }
        await #expect(throws: OutboxError.notFound("no message 999")) { try await f.outbox.cancel(id: 999) }

        _ = try await f.record(sending, .failedAll(relay: "r:25", recipients: ["a@example.com"], reason: "550 no"))
        #expect(try await f.outbox.detail(id: sending)?.summary.state == .failed)
        #expect(try await f.outbox.retryAllFailed() == 1)
        let retried = try #require(try await f.outbox.detail(id: sending))
        #expect(retried.summary.state == .deferred && retried.recipients[0].state == .pending)

        _ = try f.outbox.claimBlocking(ids: [sending], leaseSeconds: 60)
        _ = try await f.record(sending, .deferredAll(relay: "r:25", recipients: ["a@example.com"], reason: "451"))
        #expect(try await f.outbox.flush() == 1)
        #expect(try f.outbox.claimDueBlocking(limit: 5, leaseSeconds: 60).map(\.id) == [sending])
        try await f.expectCountsExact()
    }

    /// `flush` and `retry` of every failed message work in jobs of `Outbox.bulkBatch` messages; none is
    /// missed or counted twice across the jobs, and messages of other states are left alone.
    @Test func flushAndRetryAllFailedCrossTheirBatches() async throws {
        let f = try OutboxFixture()
        let n = 2 * Outbox.bulkBatch + 50
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for i in 0..<n { group.addTask { try await f.outbox.enqueue(f.message(i)).id } }
            return try await group.reduce(into: []) { $0.append($1) }
        }.sorted()
        let untouched = try await f.outbox.enqueue(f.message(n)).id  // stays queued
        let claimed = try f.outbox.claimBlocking(ids: ids, leaseSeconds: 60)
        #expect(claimed.count == n)
        let policy = RetryPolicy(minDelay: 30, maxDelay: 60, maxAge: 100)
        let latch = Latch<Bool>()
        f.outbox.record(
            claimed.map { claim in
                let result: DeliveryResult =
                    claim.id % 3 == 0
                    ? .failedAll(relay: "r:25", recipients: ["a@example.com"], reason: "550 no")
                    : .deferredAll(relay: "r:25", recipients: ["a@example.com"], reason: "451 later")
                return (claim: claim, result: result)
            }, policy: policy, jitter: { 1 }, durable: { _ in }, applied: { _ in latch.set(true) })
        _ = latch.wait()
        let failed = ids.filter { $0 % 3 == 0 }.count
        #expect(try await f.outbox.flush() == n - failed)
        #expect(try await f.outbox.flush() == 0)  // already due
        #expect(try await f.outbox.retryAllFailed() == failed)
        #expect(try await f.outbox.retryAllFailed() == 0)
        #expect(try await f.outbox.counts()[.deferred] == n)
        #expect(try await f.outbox.detail(id: untouched)?.summary.state == .queued)
        try await f.expectCountsExact()
    }

    @Test func restartPutsSendingBackInTheQueue() async throws {
        let directory = NSTemporaryDirectory() + "maild-outbox-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/outbox.db"
        do {
            let outbox = try Outbox(path: path, logger: Logger(label: "test"))
            let f = try OutboxFixture()
            _ = try await outbox.enqueue(f.message())
            #expect(try outbox.claimDueBlocking(limit: 1, leaseSeconds: 60).count == 1)
            outbox.close()
        }
        let reopened = try Outbox(path: path, logger: Logger(label: "test"))
        defer { reopened.close() }
        #expect(try await reopened.counts()[.queued] == 1)
        #expect(try reopened.claimDueBlocking(limit: 1, leaseSeconds: 60).count == 1)
    }

    @Test func aSecondOutboxOnTheSameFileIsRefused() throws {
        let f = try OutboxFixture()
        #expect(throws: OutboxError.self) {
            _ = try Outbox(path: f.directory + "/outbox.db", logger: Logger(label: "test"))
        }
    }

    @Test func sweepDeletesOnlyOldFinalMessages() async throws {
        let f = try OutboxFixture()
        let done = try await f.outbox.enqueue(f.message(1)).id
        let waiting = try await f.outbox.enqueue(f.message(2)).id
        let cancelled = try await f.outbox.enqueue(f.message(3)).id
        _ = try f.outbox.claimBlocking(ids: [done], leaseSeconds: 60)
        _ = try await f.record(done, DeliveryResult(relay: "r:25", recipients: [("a@example.com", .delivered("250"))]))
        try await f.outbox.cancel(id: cancelled)
        #expect(try f.outbox.sweepBlocking(retention: 60) == 0)
        f.clock.advance(seconds: 61)
        #expect(try f.outbox.sweepBlocking(retention: 60) == 2)
        #expect(try await f.outbox.detail(id: done) == nil)
        #expect(try await f.outbox.detail(id: cancelled) == nil)
        #expect(try await f.outbox.detail(id: waiting) != nil)
        #expect(try await f.outbox.counts()[.sent] == 0)
        try await f.expectCountsExact()
    }

    /// SQLite builds a temporary b-tree for an IN list of three or more values, also when it evaluates a
    /// partial index's WHERE on every UPDATE; that once cost a fifth of the writer's time in delivery.
    @Test func stateChangesAndTheSweepBuildNoTemporaryTables() throws {
        let f = try OutboxFixture()
        let db = try Database(path: f.directory + "/outbox.db", readOnly: true)
        for sql in [
            "UPDATE messages SET state = 'sending', lease_until = 1, updated_at = 1 WHERE id = 1",
            "UPDATE messages SET state = 'sent', next_attempt_at = NULL, attempts = 1, updated_at = 2 WHERE id = 1",
        ] {
            let s = try db.statement(composed: "EXPLAIN " + sql)
            var opcodes: [String] = []
            while try s.step() { opcodes.append(s.string(1) ?? "") }
            s.reset()
            #expect(opcodes.contains("IdxDelete"), "\(sql) maintains the indexes")
            #expect(!opcodes.contains("OpenEphemeral"), "\(sql)")
        }
        let plan = try db.statement(
            """
            EXPLAIN QUERY PLAN SELECT id FROM messages INDEXED BY messages_final
            WHERE (state IN ('sent', 'failed') OR state = 'cancelled') AND updated_at < 1 LIMIT 1
            """)
        #expect(try plan.first { $0.string(3) }??.contains("messages_final") == true)
    }

    @Test func listFiltersAndOrdersNewestFirst() async throws {
        let f = try OutboxFixture()
        for i in 0..<5 { _ = try await f.outbox.enqueue(f.message(i, company: i % 2 == 0 ? "a" : "b")) }
        let all = try await f.outbox.list(ListRequest())
        #expect(all.map(\.subject) == (0..<5).reversed().map { "subject \($0)" })
        #expect(try await f.outbox.list(ListRequest(company: "b")).count == 2)
        #expect(try await f.outbox.list(ListRequest(state: .sent)).isEmpty)
        #expect(try await f.outbox.list(ListRequest(limit: 2)).count == 2)
    }
}

@Suite struct DeliveryJournalTests {
    /// An outbox with one claimed message (two recipients), closed as a crash would leave it.
    private func claimedOutbox() async throws -> (directory: String, path: String, claim: ClaimedMessage) {
        let directory = NSTemporaryDirectory() + "maild-journal-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/outbox.db"
        let fixture = try OutboxFixture()
        let outbox = try Outbox(path: path, logger: Logger(label: "test"))
        _ = try await outbox.enqueue(fixture.message(recipients: ["a@x.com", "b@y.com"]))
        let claim = try #require(try outbox.claimDueBlocking(limit: 1, leaseSeconds: 60).first)
        outbox.close()
        return (directory, path, claim)
    }

    private func entry(_ claim: ClaimedMessage) -> JournalEntry {
        JournalEntry(
            message: claim.id, attemptsBefore: claim.attempts, at: Timestamp(seconds: 1_800_000_000),
            result: DeliveryResult(
                relay: "relay.test:25", recipients: [("a@x.com", .delivered("250 2.0.0 ok")), ("b@y.com", .failed("550 5.1.1 no"))]))
    }

    private func expectApplied(_ path: String, _ claim: ClaimedMessage) async throws {
        let reopened = try Outbox(path: path, logger: Logger(label: "test"))
        defer { reopened.close() }
        let detail = try #require(try await reopened.detail(id: claim.id))
        #expect(detail.summary.state == .failed)
        #expect(detail.recipients.map(\.state) == [.delivered, .failed])
        #expect(detail.attempts.count == 1 && detail.attempts[0].relay == "relay.test:25")
        let counts = try await reopened.counts()
        #expect(counts[.failed] == 1 && counts[.sending] == 0)
    }

    private func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1
    }

    @Test func outcomesLeftInTheJournalByACrashAreAppliedOnceAtStart() async throws {
        let (directory, path, claim) = try await claimedOutbox()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The relay accepted the message and the outcome reached the journal; then the daemon died while
        // writing the next record (a torn tail).
        var bytes: [UInt8] = []
        for seq in [Int64(1), 2] { JournalFile.encode(seq: seq, entry(claim), into: &bytes) }  // twice: again changes nothing
        let file = try JournalFile(path: DeliveryJournal.paths(for: path)[1])
        try file.append(bytes, seqs: 1...2)
        var torn: [UInt8] = []
        JournalFile.encode(seq: 3, entry(claim), into: &torn)
        try file.append(Array(torn.prefix(torn.count - 5)), seqs: 3...3)

        for _ in 0..<2 { try await expectApplied(path, claim) }
        #expect(DeliveryJournal.paths(for: path).map(size) == [0, 0])
    }

    @Test func aJournalLeftByAnOlderVersionIsAppliedAndRemoved() async throws {
        let (directory, path, claim) = try await claimedOutbox()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let legacy = DeliveryJournal.legacyPath(for: path)
        do {
            let db = try Database(path: legacy)
            try db.execute(OutboxStore.journalSchema)
            try db.statement("INSERT INTO outcomes (message, attempts_before, at, result) VALUES (?, ?, ?, ?)")
                .bind(1, claim.id).bind(2, claim.attempts).bind(3, Int64(1_800_000_000_000))
                .bind(4, String(decoding: JournalCoding.encodeJSON(entry(claim).result), as: UTF8.self)).run()
        }
        try await expectApplied(path, claim)
        #expect(!FileManager.default.fileExists(atPath: legacy))
    }

    @Test func aCleanStopLeavesNothingToReplay() async throws {
        let (directory, path, claim) = try await claimedOutbox()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let outbox = try Outbox(path: path, logger: Logger(label: "test"))
            _ = try outbox.claimDueBlocking(limit: 1, leaseSeconds: 60)  // due again after the "crash" above
            let reclaimed = try #require(try await outbox.detail(id: claim.id))
            #expect(reclaimed.summary.state == .sending)
            let applied = Latch<Bool>()
            outbox.record(
                [(claim: claim, result: entry(claim).result)], policy: RetryPolicy(), jitter: { 1 },
                durable: { _ in }, applied: { _ in applied.set(true) })
            _ = applied.wait()
            outbox.close()
        }
        #expect(DeliveryJournal.paths(for: path).map(size) == [0, 0])
        try await expectApplied(path, claim)
    }

    @Test func outcomesTheJournalCannotTakeGoToTheOutboxDirectly() async throws {
        let (directory, path, claim) = try await claimedOutbox()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let outbox = try Outbox(path: path, logger: Logger(label: "test"))
            _ = try outbox.claimDueBlocking(limit: 1, leaseSeconds: 60)
            outbox.journal.close()  // as good as a journal on a full disk: every append fails
            let durable = Latch<Result<Void, OutboxError>>()
            let applied = Latch<Bool>()
            outbox.record(
                [(claim: claim, result: entry(claim).result)], policy: RetryPolicy(), jitter: { 1 },
                durable: { durable.set($0) }, applied: { _ in applied.set(true) })
            #expect(throws: Never.self) { try durable.wait().get() }
            _ = applied.wait()
            outbox.close()
        }
        try await expectApplied(path, claim)
    }

    /// Past `rotateBytes` appends move to the other file once it is empty, and a file is emptied once all
    /// of its records are applied (the current one only past `truncateCurrentBytes`).
    @Test func filesRotateAndEmptyOnceApplied() throws {
        let directory = NSTemporaryDirectory() + "maild-journal-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = DeliveryJournal.paths(for: directory + "/outbox.db")
        let state = DeliveryJournal.State(files: try paths.map { try JournalFile(path: $0) }, nextSeq: 1)
        let one = JournalEntry(
            message: 1, attemptsBefore: 0, at: Timestamp(seconds: 0),
            result: DeliveryResult(relay: "r:25", recipients: [("a@x", .delivered("250 ok"))]))
        func append(_ count: Int) -> [Int64] {
            let seqs = Locked<[Int64]>([])
            state.append([DeliveryJournal.Append(entries: Array(repeating: one, count: count)) { result in
                seqs.withLock { $0 = (try? result.get()) ?? [] }
            }])
            return seqs.current
        }
        var big: [Int64] = []
        while size(paths[0]) < DeliveryJournal.rotateBytes { big += append(2000) }
        #expect(big == Array(1...Int64(big.count)))
        let small = append(3)
        #expect(small.first == Int64(big.count + 1) && size(paths[1]) > 0)
        state.markApplied(big)
        #expect(size(paths[0]) == 0)
        state.markApplied(small)
        #expect(size(paths[1]) > 0)  // the current file, still small: left for later
        let reread = try JournalFile(path: paths[1]).readAll()
        #expect(reread.records.map(\.seq) == small && reread.discarded == 0)
    }

    /// A record torn by a crash ends the reading, and its bytes are counted so start-up can say so.
    @Test func aTornLastRecordIsCountedNotRead() throws {
        let one = JournalEntry(
            message: 7, attemptsBefore: 1, at: Timestamp(seconds: 60),
            result: DeliveryResult(relay: "r:25", recipients: [("a@x", .delivered("250 ok"))]))
        var bytes: [UInt8] = []
        JournalFile.encode(seq: 1, one, into: &bytes)
        JournalFile.encode(seq: 2, one, into: &bytes)
        let whole = bytes.count
        var torn: [UInt8] = []
        JournalFile.encode(seq: 3, one, into: &torn)
        bytes += torn.prefix(torn.count / 2)
        let (records, used) = JournalFile.decode(bytes[...])
        #expect(records.map(\.seq) == [1, 2] && records.last?.entry.message == 7)
        #expect(used == whole && bytes.count - used == torn.count / 2)
        var damaged = bytes.prefix(whole) + torn
        damaged[whole + JournalFile.headerSize + 3] ^= 0xFF  // a flipped bit fails the checksum
        #expect(JournalFile.decode(damaged).records.count == 2 && JournalFile.decode(damaged).used == whole)
    }

    @Test func journalCodingRoundTrips() {
        let result = DeliveryResult(
            relay: "[::1]:25", recipients: [("a@x", .delivered("250 ok")), ("b@y", .deferred("451 \"later\"\nx")), ("c@z", .failed("550"))],
            error: "partial", uncertain: true)
        #expect(JournalCoding.decode(JournalCoding.encode(result)) == result)
        let plain = DeliveryResult(relay: "smtp.exemplo.com.br:587", recipients: [("joão@exemplo.com.br", .delivered("250 2.0.0 açúcar"))])
        #expect(JournalCoding.decode(JournalCoding.encode(plain)) == plain)
        // What maild wrote before the binary form is still read.
        #expect(JournalCoding.decode(JournalCoding.encodeJSON(result)) == result)
        #expect(JournalCoding.decode(JournalCoding.encodeJSON(plain)) == plain)
        // A record cut short or with bytes left over is refused, never half read.
        let bytes = JournalCoding.encode(result)
        for cut in 0..<bytes.count { #expect(JournalCoding.decode(Array(bytes[..<cut])) == nil, "cut at \(cut)") }
        #expect(JournalCoding.decode(bytes + [0]) == nil)
    }
}
