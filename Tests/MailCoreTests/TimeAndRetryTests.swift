import Testing

@testable import MailCore

@Suite struct TimestampTests {
    @Test func formatsRFC3339AndRFC5322() {
        let t = Timestamp(seconds: 1_795_000_000)  // 2026-11-18T11:06:40Z, a Wednesday
        #expect(t.rfc3339 == "2026-11-18T11:06:40Z")
        #expect(t.rfc5322 == "Wed, 18 Nov 2026 11:06:40 +0000")
        #expect(Timestamp(seconds: 0).rfc5322 == "Thu, 1 Jan 1970 00:00:00 +0000")
        #expect(Timestamp(seconds: 951_782_400).rfc3339 == "2000-02-29T00:00:00Z")
    }

    @Test func rfc5322AgreesWithRFC3339AtRandomInstants() {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        for _ in 0..<500 {
            let seconds = Int64.random(in: 0..<4_102_444_800)
            let t = Timestamp(seconds: seconds)
            // "2026-11-18T11:06:40Z" -> "Wed, 18 Nov 2026 11:06:40 +0000"
            let iso = Array(t.rfc3339.utf8)
            func part(_ r: Range<Int>) -> String { String(decoding: iso[r], as: UTF8.self) }
            let expected =
                "\(weekdays[Int(seconds / 86400 % 7)]), \(Int(part(8..<10))!) \(months[Int(part(5..<7))! - 1]) "
                + "\(part(0..<4)) \(part(11..<19)) +0000"
            #expect(t.rfc5322 == expected, "at \(seconds)")
        }
    }

    @Test func parsesWhatItWrites() {
        for seconds: Int64 in [0, 951_782_400, 1_795_000_000, 4_102_444_799] {
            #expect(Timestamp(rfc3339: Timestamp(seconds: seconds).rfc3339) == Timestamp(seconds: seconds))
        }
        #expect(Timestamp(rfc3339: "2026-13-01T00:00:00Z") == nil)
    }
}

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(minDelay: 30, maxDelay: 3600, maxAge: 432_000)

    @Test func delayDoublesUpToTheCap() {
        #expect(policy.delay(afterAttempt: 1) == 30)
        #expect(policy.delay(afterAttempt: 2) == 60)
        #expect(policy.delay(afterAttempt: 5) == 480)
        #expect(policy.delay(afterAttempt: 8) == 3600)
        #expect(policy.delay(afterAttempt: 80) == 3600)
        #expect(policy.delay(afterAttempt: 1, jitter: 1.1) == 33)
    }

    @Test func nextAttemptNeverPassesMaxAgeAndNilAtIt() {
        let created = Timestamp(seconds: 1000)
        #expect(policy.nextAttempt(after: 1, createdAt: created, now: created) == created.adding(seconds: 30))
        let late = created.adding(seconds: 432_000 - 10)
        #expect(policy.nextAttempt(after: 9, createdAt: created, now: late) == created.adding(seconds: 432_000))
        #expect(policy.nextAttempt(after: 9, createdAt: created, now: created.adding(seconds: 432_000)) == nil)
    }

    func verdict(_ states: [RecipientState], _ result: DeliveryResult, now: Int64 = 1000) -> MessageVerdict {
        MessageVerdict.decide(
            recipientStates: states, result: result, attempt: 1, createdAt: Timestamp(seconds: 1000),
            now: Timestamp(seconds: now), policy: policy, jitter: 1)
    }

    @Test func verdictFollowsTheRecipients() {
        let ok = DeliveryResult(relay: "r:25", recipients: [("a@b.c", .delivered("250 ok"))])
        #expect(verdict([.delivered], ok).state == .sent)
        let bounced = DeliveryResult(relay: "r:25", recipients: [("a@b.c", .failed("550 5.1.1 unknown"))])
        let failed = verdict([.failed], bounced)
        #expect(failed.state == .failed && failed.lastError == "550 5.1.1 unknown")
        let mixed = DeliveryResult(relay: "r:25", recipients: [("a@b.c", .delivered("250")), ("d@e.f", .deferred("451 later"))])
        let deferred = verdict([.delivered, .deferred], mixed)
        #expect(deferred.state == .deferred && deferred.nextAttemptAt == Timestamp(seconds: 1030))
        #expect(deferred.lastError == "451 later")
        let partial = verdict([.delivered, .failed], bounced)
        #expect(partial.state == .failed)
        // Deferred, it names what keeps it waiting, not another recipient's 5xx.
        let both = DeliveryResult(relay: "r:25", recipients: [("a@b.c", .failed("550 no such user")), ("d@e.f", .deferred("451 later"))])
        #expect(verdict([.failed, .deferred], both).lastError == "451 later")
    }

    @Test func summaryNamesTheOutcomeOfEveryRecipientOrPartial() {
        func summary(_ dispositions: [RecipientDisposition]) -> String {
            DeliveryResult(relay: "r:25", recipients: dispositions.enumerated().map { ("r\($0.offset)@b.c", $0.element) })
                .summary
        }
        let delivered = RecipientDisposition.delivered("250 ok")
        let failed = RecipientDisposition.failed("550 no")
        let deferred = RecipientDisposition.deferred("451 later")
        #expect(summary([delivered, delivered]) == "delivered")
        #expect(summary([failed]) == "failed")
        #expect(summary([deferred, deferred, deferred]) == "deferred")
        #expect(summary([delivered, failed]) == "partial")
        #expect(summary([deferred, delivered]) == "partial")
        #expect(summary([failed, deferred]) == "partial")
        #expect(summary([]) == "partial")
    }

    @Test func verdictExpiresAtMaxAge() {
        let down = DeliveryResult.deferredAll(relay: "r:25", recipients: ["a@b.c"], reason: "connection refused by r:25")
        let expired = verdict([.deferred], down, now: 1000 + 432_000)
        #expect(expired.state == .failed && expired.expired)
        #expect(expired.lastError?.contains("connection refused by r:25") == true)
    }
}
