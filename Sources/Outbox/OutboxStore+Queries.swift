import MailCore

extension OutboxStore {
    /// Messages per state, from the trigger-maintained counts (O(1)).
    func counts() throws(SQLiteError) -> [MessageState: Int] {
        var result: [MessageState: Int] = [:]
        for state in MessageState.allCases { result[state] = 0 }
        let s = try db.statement("SELECT state, n FROM state_counts")
        while try s.step() {
            if let state = MessageState(rawValue: s.string(0) ?? "") { result[state] = s.int(1) }
        }
        return result
    }

    private static let summaryColumns = """
        id, company, state, subject, from_header, created_at, next_attempt_at, attempts, last_error
        """

    private func summary(_ s: Statement) throws(SQLiteError) -> MessageSummary {
        let id = s.int64(0)
        let company = s.string(1) ?? ""
        let state = MessageState(rawValue: s.string(2) ?? "") ?? .queued
        return MessageSummary(
            id: String(id), company: company.isEmpty ? nil : company, state: state, subject: s.string(3) ?? "",
            from: s.string(4) ?? "", to: try recipientAddresses(id),
            createdAt: Timestamp(milliseconds: s.int64(5)),
            nextAttemptAt: (state == .queued || state == .deferred) && !s.isNull(6)
                ? Timestamp(milliseconds: s.int64(6)) : nil,
            attempts: s.int(7), lastError: s.string(8))
    }

    private func recipientAddresses(_ id: Int64) throws(SQLiteError) -> [String] {
        let s = try db.statement("SELECT address FROM recipients WHERE message = ? ORDER BY position")
        s.bind(1, id)
        var out: [String] = []
        while try s.step() { out.append(s.string(0) ?? "") }
        return out
    }

    /// The newest messages first, optionally of one state and/or one company.
    func list(_ request: ListRequest) throws(SQLiteError) -> [MessageSummary] {
        var conditions: [String] = []
        if request.state != nil { conditions.append("state = ?1") }
        if request.company != nil { conditions.append("company = ?2") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let s = try db.statement(
            composed: "SELECT \(OutboxStore.summaryColumns) FROM messages \(whereClause) ORDER BY id DESC LIMIT ?3")
        if let state = request.state { s.bind(1, state.rawValue) }
        if let company = request.company { s.bind(2, company) }
        s.bind(3, request.limit)
        var rows: [(Int64, MessageSummary)] = []
        // Read the rows first: the recipient query reuses no statement of this loop, but keep it simple.
        while try s.step() { rows.append((s.int64(0), try summary(s))) }
        return rows.map(\.1)
    }

    /// Everything `show` answers, or nil.
    func detail(id: Int64) throws(SQLiteError) -> MessageDetail? {
        let s = try db.statement(
            composed: "SELECT \(OutboxStore.summaryColumns), message_id, envelope_from, size FROM messages WHERE id = ?")
        s.bind(1, id)
        guard try s.step() else { return nil }
        let head = try summary(s)
        let messageID = s.string(9) ?? ""
        let envelopeFrom = s.string(10) ?? ""
        let size = s.int(11)
        s.reset()

        var recipients: [RecipientStatus] = []
        let r = try db.statement("SELECT address, state, reply FROM recipients WHERE message = ? ORDER BY position")
        r.bind(1, id)
        while try r.step() {
            recipients.append(
                RecipientStatus(
                    address: r.string(0) ?? "", state: RecipientState(rawValue: r.string(1) ?? "") ?? .pending,
                    reply: r.string(2)))
        }
        var attempts: [AttemptRecord] = []
        let a = try db.statement(
            "SELECT at, relay, outcome, error, uncertain FROM attempts WHERE message = ? ORDER BY rowid")
        a.bind(1, id)
        while try a.step() {
            attempts.append(
                AttemptRecord(
                    at: Timestamp(milliseconds: a.int64(0)), relay: a.string(1) ?? "", outcome: a.string(2) ?? "",
                    error: a.string(3), uncertain: a.bool(4)))
        }
        return MessageDetail(
            summary: head, messageID: messageID, envelopeFrom: envelopeFrom, size: size, recipients: recipients,
            attempts: attempts)
    }
}
