import MailCore

extension OutboxStore {
    private func state(of id: Int64) throws(SQLiteError) -> MessageState? {
        let s = try db.statement("SELECT state FROM messages WHERE id = ?")
        s.bind(1, id)
        return try s.first { MessageState(rawValue: $0.string(0) ?? "") } ?? nil
    }

    /// Cancels a message not yet being sent.
    func cancel(id: Int64, now: Timestamp) throws -> Void {
        guard let state = try state(of: id) else { throw OutboxError.notFound("no message \(id)") }
        guard state == .queued || state == .deferred else {
            throw OutboxError.conflict("message \(id) is \(state.rawValue); only queued or deferred mail can be cancelled")
        }
        try db.statement(
            """
            UPDATE messages SET state = 'cancelled', next_attempt_at = NULL, updated_at = ?1, last_error = 'cancelled'
            WHERE id = ?2
            """
        ).bind(1, now.milliseconds).bind(2, id).run()
        // Its recipients still pending will not be sent to either (`show` must not call them deferred).
        try db.statement("UPDATE recipients SET state = 'cancelled' WHERE message = ? AND state IN ('pending', 'deferred')")
            .bind(1, id).run()
        moved(from: state, to: .cancelled)
    }

    /// Makes a failed (or deferred) message due now again: its failed recipients become pending and
    /// max_age counts from now.
    func retry(id: Int64, now: Timestamp) throws -> Void {
        guard let state = try state(of: id) else { throw OutboxError.notFound("no message \(id)") }
        guard state == .failed || state == .deferred else {
            throw OutboxError.conflict("message \(id) is \(state.rawValue); only failed or deferred mail can be retried")
        }
        try requeue(id: id, from: state, now: now)
    }

    private func requeue(id: Int64, from state: MessageState, now: Timestamp) throws(SQLiteError) {
        try db.statement("UPDATE recipients SET state = 'pending' WHERE message = ? AND state <> 'delivered'")
            .bind(1, id).run()
        let update = try db.statement(
            """
            UPDATE messages SET state = CASE WHEN attempts > 0 THEN 'deferred' ELSE 'queued' END,
                next_attempt_at = ?1, age_from = ?1, updated_at = ?1
            WHERE id = ?2
            RETURNING attempts
            """
        ).bind(1, now.milliseconds).bind(2, id)
        while try update.step() { moved(from: state, to: Self.pendingState(attempts: update.int(0))) }
    }

    /// Requeues the failed messages with ids after `after`, up to `limit` of them, in id order. Returns how
    /// many, and the last id (nil when there were none).
    func retryFailed(after: Int64, limit: Int, now: Timestamp) throws(SQLiteError) -> (count: Int, last: Int64?) {
        let s = try db.statement("SELECT id FROM messages WHERE state = 'failed' AND id > ? ORDER BY id LIMIT ?")
        s.bind(1, after).bind(2, limit)
        var ids: [Int64] = []
        while try s.step() { ids.append(s.int64(0)) }
        for id in ids { try requeue(id: id, from: .failed, now: now) }
        return (ids.count, ids.last)
    }

    /// Makes the deferred messages with ids after `after` due now, up to `limit` of them, in id order.
    /// Returns how many changed, how many were looked at, and the last id looked at.
    func flush(after: Int64, limit: Int, now: Timestamp) throws(SQLiteError) -> (changed: Int, seen: Int, last: Int64) {
        let range = try db.statement(
            "SELECT MAX(id), COUNT(*) FROM (SELECT id FROM messages WHERE state = 'deferred' AND id > ? ORDER BY id LIMIT ?)")
        range.bind(1, after).bind(2, limit)
        guard let (last, seen) = try range.first({ ($0.int64(0), $0.int(1)) }), seen > 0 else { return (0, 0, after) }
        try db.statement(
            """
            UPDATE messages SET next_attempt_at = ?1
            WHERE state = 'deferred' AND id > ?2 AND id <= ?3 AND next_attempt_at > ?1
            """
        ).bind(1, now.milliseconds).bind(2, after).bind(3, last).run()
        return (db.changes, seen, last)
    }

    /// Deletes up to `limit` sent, failed or cancelled messages last changed before `cutoff`, with their
    /// bytes, recipients and attempts. Small batches keep each write transaction short.
    func sweep(before cutoff: Timestamp, limit: Int) throws(SQLiteError) -> Int {
        let select = try db.statement(
            """
            SELECT id, state FROM messages INDEXED BY messages_final
            WHERE (state IN ('sent', 'failed') OR state = 'cancelled') AND updated_at < ? LIMIT ?
            """)
        select.bind(1, cutoff.milliseconds).bind(2, limit)
        var found: [(id: Int64, state: MessageState?)] = []
        while try select.step() { found.append((select.int64(0), MessageState(rawValue: select.string(1) ?? ""))) }
        let statements = try [
            "DELETE FROM message_data WHERE id = ?", "DELETE FROM recipients WHERE message = ?",
            "DELETE FROM attempts WHERE message = ?", "DELETE FROM messages WHERE id = ?",
        ].map { (sql: StaticString) throws(SQLiteError) -> Statement in try db.statement(sql) }
        for (id, state) in found {
            for s in statements {
                s.reset()
                try s.bind(1, id).run()
            }
            moved(from: state, to: nil)
        }
        return found.count
    }
}
