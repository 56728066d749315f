import MailCore

extension OutboxStore {
    /// Companies (`''` for none) that have queued or deferred mail, by a loose index scan of
    /// `messages_due`: one index probe per company however many messages each has. (INDEXED BY: left to
    /// itself the planner scans `messages_by_state`, which costs a row per pending message.)
    func companiesWithPendingMail() throws(SQLiteError) -> [String] {
        var companies: [String] = []
        let first = try db.statement(
            "SELECT MIN(company) FROM messages INDEXED BY messages_due WHERE state IN ('queued', 'deferred')")
        guard let found = try first.first({ $0.string(0) }), let start = found else { return [] }
        companies.append(start)
        let next = try db.statement(
            """
            SELECT MIN(company) FROM messages INDEXED BY messages_due
            WHERE state IN ('queued', 'deferred') AND company > ?
            """)
        while true {
            next.reset()
            next.bind(1, companies.last!)
            guard let found = try next.first({ $0.string(0) }), let company = found else { break }
            companies.append(company)
        }
        return companies
    }

    /// Claims up to `limit` due messages, shared fairly between companies: each company with due mail
    /// gets an equal quota of this batch, so a company with a large backlog cannot starve the others.
    /// `include` says which companies (nil: none) to claim for; the others' mail stays queued.
    func claimDue(now: Timestamp, limit: Int, leaseSeconds: Int, include: (String?) -> Bool)
        throws(SQLiteError) -> [ClaimedMessage]
    {
        let companies = try companiesWithPendingMail().filter { include($0.isEmpty ? nil : $0) }
        guard !companies.isEmpty else { return [] }
        var claimed: [ClaimedMessage] = []
        var remaining = limit
        var candidates = companies
        // Rounds: a company that used its whole quota may have more; the others' unused share goes to it.
        while remaining > 0 && !candidates.isEmpty {
            let quota = max(1, remaining / candidates.count)
            var stillFull: [String] = []
            for company in candidates where remaining > 0 {
                let due = try dueIDs(company: company, now: now, limit: min(quota, remaining))
                for id in due {
                    if let message = try claim(id: id, now: now, leaseSeconds: leaseSeconds) {
                        claimed.append(message)
                        remaining -= 1
                    }
                }
                if due.count == quota { stillFull.append(company) }
            }
            candidates = stillFull
        }
        return claimed
    }

    private func dueIDs(company: String, now: Timestamp, limit: Int) throws(SQLiteError) -> [Int64] {
        let s = try db.statement(
            """
            SELECT id FROM messages WHERE company = ? AND state IN ('queued', 'deferred') AND next_attempt_at <= ?
            ORDER BY next_attempt_at LIMIT ?
            """)
        s.bind(1, company).bind(2, now.milliseconds).bind(3, limit)
        var ids: [Int64] = []
        while try s.step() { ids.append(s.int64(0)) }
        return ids
    }

    /// Claims one message if it is still queued or deferred (for immediate delivery after its enqueue).
    ///
    /// One SELECT reads the message with its pending recipients, then a plain UPDATE marks it: an
    /// `UPDATE … RETURNING` would buffer its row in a temporary b-tree opened and closed for every
    /// message, which cost more than both statements together.
    func claim(id: Int64, now: Timestamp, leaseSeconds: Int) throws(SQLiteError) -> ClaimedMessage? {
        let select = try db.statement(
            """
            SELECT m.company, m.envelope_from, m.size, m.smtputf8, m.eightbit, m.age_from, m.attempts,
                r.position, r.address
            FROM messages m LEFT JOIN recipients r ON r.message = m.id AND r.state IN ('pending', 'deferred')
            WHERE m.id = ? AND m.state IN ('queued', 'deferred')
            ORDER BY r.position
            """)
        select.bind(1, id)
        guard try select.step() else { return nil }
        let company = select.string(0) ?? ""
        var message = ClaimedMessage(
            id: id, company: company.isEmpty ? nil : company, envelopeFrom: select.string(1) ?? "", recipients: [],
            size: select.int(2), needsSMTPUTF8: select.int(3) == NewMessage.smtpUTF8Needed, has8BitData: select.bool(4),
            prefersSMTPUTF8: select.int(3) == NewMessage.smtpUTF8Preferred,
            ageFrom: Timestamp(milliseconds: select.int64(5)), attempts: select.int(6))
        repeat {
            guard !select.isNull(7) else { break }
            message.recipients.append(PendingRecipient(position: select.int(7), address: select.string(8) ?? ""))
        } while try select.step()
        select.reset()
        try db.statement("UPDATE messages SET state = 'sending', lease_until = ?1, updated_at = ?2 WHERE id = ?3")
            .bind(1, now.milliseconds + Int64(leaseSeconds) * 1000).bind(2, now.milliseconds).bind(3, id).run()
        moved(from: Self.pendingState(attempts: message.attempts), to: .sending)
        return message
    }

    /// Records one attempt: each recipient's disposition, the attempt row, and the message's new state
    /// (SPEC §4). Returns the verdict, or nil when there is nothing to record: the message is gone, or
    /// (with `attemptsBefore`) it is no longer the claim this outcome was made for — already recorded.
    func record(
        id: Int64, result: DeliveryResult, policy: RetryPolicy, now: Timestamp, jitter: Double,
        attemptsBefore: Int? = nil
    ) throws(SQLiteError) -> MessageVerdict? {
        // The message and its recipients in one read; the recipients' new states are worked out here, as
        // the UPDATE below sets them, instead of read back after it.
        let select = try db.statement(
            """
            SELECT m.age_from, m.attempts, m.state, r.address, r.state, r.reply
            FROM messages m LEFT JOIN recipients r ON r.message = m.id
            WHERE m.id = ?
            ORDER BY r.position
            """)
        select.bind(1, id)
        guard try select.step() else { return nil }
        let ageFrom = Timestamp(milliseconds: select.int64(0))
        let previous = select.int(1)
        let current = select.string(2) ?? ""
        var recipients: [(address: String, state: RecipientState)] = []
        /// The reply that failed a recipient in an earlier attempt, for a message this attempt finishes.
        var earlierRefusal: String?
        repeat {
            guard !select.isNull(3) else { break }
            let state = RecipientState(rawValue: select.string(4) ?? "") ?? .pending
            recipients.append((select.string(3) ?? "", state))
            if state == .failed && earlierRefusal == nil { earlierRefusal = "\(select.string(3) ?? ""): \(select.string(5) ?? "")" }
        } while try select.step()
        select.reset()
        if let attemptsBefore, current != MessageState.sending.rawValue || previous != attemptsBefore { return nil }
        let attempt = previous + 1

        func state(_ disposition: RecipientDisposition) -> RecipientState {
            switch disposition {
            case .delivered: return .delivered
            case .failed: return .failed
            case .deferred: return .deferred
            }
        }
        // The attempt went to every pending recipient. When they all got the same answer (the common case:
        // one recipient, or a connection that failed as a whole) one statement updates them all.
        let first = result.recipients.first?.disposition
        let isPending = { (state: RecipientState) in state == .pending || state == .deferred }
        if let first, result.recipients.allSatisfy({ $0.disposition == first }) {
            try db.statement(
                "UPDATE recipients SET state = ?1, reply = ?2 WHERE message = ?3 AND state IN ('pending', 'deferred')"
            ).bind(1, state(first).rawValue).bind(2, first.reply).bind(3, id).run()
            for i in recipients.indices where isPending(recipients[i].state) { recipients[i].state = state(first) }
        } else {
            let update = try db.statement(
                """
                UPDATE recipients SET state = ?1, reply = ?2
                WHERE message = ?3 AND address = ?4 AND state IN ('pending', 'deferred')
                """)
            for (address, disposition) in result.recipients {
                update.reset()
                try update.bind(1, state(disposition).rawValue).bind(2, disposition.reply).bind(3, id)
                    .bind(4, address).run()
                for i in recipients.indices where recipients[i].address == address && isPending(recipients[i].state) {
                    recipients[i].state = state(disposition)
                }
            }
        }
        let states = recipients.map(\.state)

        moved(from: .sending, to: nil)
        var verdict = MessageVerdict.decide(
            recipientStates: states, result: result, attempt: attempt, createdAt: ageFrom, now: now, policy: policy,
            jitter: jitter)
        // Failed because a recipient was refused for good in an earlier attempt, this one having delivered
        // the rest: that refusal is the reason.
        if verdict.state == .failed && verdict.lastError == nil { verdict.lastError = earlierRefusal }
        moved(from: nil, to: verdict.state)
        if verdict.expired {
            try db.statement(
                "UPDATE recipients SET state = 'failed', reply = ?1 WHERE message = ?2 AND state IN ('pending', 'deferred')"
            ).bind(1, verdict.lastError).bind(2, id).run()
        }
        try db.statement(
            """
            UPDATE messages SET state = ?1, next_attempt_at = ?2, attempts = ?3, last_error = ?4, updated_at = ?5,
                lease_until = NULL
            WHERE id = ?6
            """
        ).bind(1, verdict.state.rawValue).bind(2, verdict.nextAttemptAt?.milliseconds).bind(3, attempt)
            .bind(4, verdict.lastError).bind(5, now.milliseconds).bind(6, id).run()
        try db.statement(
            "INSERT INTO attempts (message, at, relay, outcome, error, uncertain) VALUES (?, ?, ?, ?, ?, ?)"
        ).bind(1, id).bind(2, now.milliseconds).bind(3, result.relay).bind(4, result.summary).bind(5, result.error)
            .bind(6, result.uncertain).run()
        return verdict
    }

    /// Puts claimed messages that were not attempted back in the queue (graceful stop, or a worker
    /// that could not take them), due at once.
    func release(ids: [Int64], now: Timestamp) throws(SQLiteError) {
        let s = try db.statement(
            """
            UPDATE messages SET state = CASE WHEN attempts > 0 THEN 'deferred' ELSE 'queued' END,
                next_attempt_at = ?1, lease_until = NULL, updated_at = ?1
            WHERE id = ?2 AND state = 'sending'
            RETURNING attempts
            """)
        for id in ids {
            s.reset()
            s.bind(1, now.milliseconds).bind(2, id)
            while try s.step() { moved(from: .sending, to: Self.pendingState(attempts: s.int(0))) }
        }
    }

    /// At start-up: whatever a crash left `sending` is due again (delivered at least once).
    func recoverInterrupted(now: Timestamp) throws(SQLiteError) -> Int {
        let s = try db.statement(
            """
            UPDATE messages SET state = CASE WHEN attempts > 0 THEN 'deferred' ELSE 'queued' END,
                next_attempt_at = ?1, lease_until = NULL, updated_at = ?1
            WHERE state = 'sending'
            RETURNING attempts
            """)
        s.bind(1, now.milliseconds)
        var count = 0
        while try s.step() {
            moved(from: .sending, to: Self.pendingState(attempts: s.int(0)))
            count += 1
        }
        return count
    }
}
