import MailCore

/// MAIL, RCPT…, DATA, the data, the final dot, RSET.
extension SessionStateMachine {
    /// Starts a transaction, or ends it at once when this relay cannot take the message.
    mutating func beginTransaction(_ envelope: Envelope) -> Action {
        if let pickup = awaitingPickup, case .transaction(let progress) = state, progress.id == pickup,
            progress.envelope == envelope
        {
            // Its commands went out behind the previous message's data: only the replies are left.
            awaitingPickup = nil
            return .awaitReply(.command)
        }
        guard case .ready = state else {
            let reason = closedReason.map { "connection is not usable: \($0)" } ?? "another transaction is in progress"
            let result = DeliveryResult.deferredAll(
                relay: configuration.relay, recipients: envelope.recipients, reason: reason)
            return .transactionFinished(earlyEnd(envelope, result), closeConnection: false)
        }
        if let refusal = refusal(of: envelope) {
            return .transactionFinished(earlyEnd(envelope, refusal), closeConnection: false)
        }
        transactionCount += 1
        var progress = TransactionProgress(
            id: transactionCount, envelope: envelope, pipelined: capabilities.pipelining,
            mailParameters: mailParameters(for: envelope))
        let commands = progress.firstCommands()
        state = .transaction(progress)
        return .send(commands, .command)
    }

    /// The caller has the data for the transaction that got 354. With PIPELINING, what follows goes out in
    /// the same write as the final dot, which saves the relay and us a round trip: QUIT when `thenQuit`
    /// (the session's last transaction), or `next`'s MAIL, RCPT… and DATA (the caller then starts `next`
    /// with `beginTransaction` as usual, after this one's outcome).
    mutating func sendMessageData(
        transaction id: Int, recipients: [String], thenQuit: Bool = false, thenBegin next: Envelope? = nil
    ) -> Action {
        guard case .messageData(let progress) = state, progress.id == id else {
            let result = DeliveryResult.deferredAll(
                relay: configuration.relay, recipients: recipients, reason: "no transaction is waiting for this data")
            return .transactionFinished(
                TransactionStart(transactionID: id, recipients: recipients, finished: result), closeConnection: false)
        }
        state = .sendingData(progress)
        guard capabilities.pipelining else { return .sendMessageData(then: []) }
        if thenQuit {
            quitQueued = true
            return .sendMessageData(then: [.quit])
        }
        if let next, refusal(of: next) == nil {
            transactionCount += 1
            var ahead = TransactionProgress(
                id: transactionCount, envelope: next, pipelined: true, mailParameters: mailParameters(for: next))
            let commands = ahead.firstCommands()
            sentAhead = ahead
            return .sendMessageData(then: commands)
        }
        return .sendMessageData(then: [])
    }

    /// The data and the final dot are written.
    mutating func messageDataSent() -> Action {
        guard case .sendingData(let progress) = state else { return fail("message data sent out of turn") }
        state = .dotReply(progress)
        return .awaitReply(.finalDot)
    }

    /// `progress` is the current transaction's, taken out of `state` by the caller (state is `.idle` on
    /// entry) so that recording the reply changes it in place.
    mutating func transactionReplied(_ reply: SMTPReply, _ progress: consuming TransactionProgress) -> Action {
        // RFC 5321 §3.8: 421 means the relay is closing; whatever is undecided is deferred.
        if reply.code == 421 {
            state = .transaction(progress)
            return fail(reply.description, reply: reply)
        }
        let next = progress.record(reply)
        state = .transaction(progress)
        switch next {
        case .awaitReply:
            return .awaitReply(.command)
        case .send(let commands):
            return .send(commands, .command)
        case .dataAccepted:
            state = .messageData(progress)
            return .transactionReady(progress.start())
        case .ended:
            return ended(progress.finished(relay: configuration.relay, failure: nil, uncertain: false))
        case .outOfStep(let why):
            return fail(why, reply: reply)
        }
    }

    /// Like `transactionReplied`, `progress` comes out of `state` (`.idle` on entry).
    mutating func dotReplied(_ reply: SMTPReply, _ progress: consuming TransactionProgress) -> Action {
        switch reply.kind {
        case .positiveCompletion, .transientNegative, .permanentNegative:
            progress.recordDotReply(reply)
            let outcome = progress.finished(relay: configuration.relay, failure: nil, uncertain: false)
            if reply.code == 421 {
                sentAhead = nil
                state = .closed(reason: reply.description)
                return .transactionFinished(outcome, closeConnection: true)
            }
            if quitQueued {
                // No RSET after a failure either: the session is over, `quit()` reads QUIT's reply.
                state = .quitting
                return .transactionFinished(outcome, closeConnection: false)
            }
            if let ahead = sentAhead {
                // The next transaction's commands follow the dot; a failed transaction needs no RSET
                // before them (RFC 5321 §4.1.1.4: the reply to the dot ends it either way).
                sentAhead = nil
                awaitingPickup = ahead.id
                state = .transaction(ahead)
                return .transactionFinished(outcome, closeConnection: false)
            }
            if progress.completed {
                state = .ready
                return .transactionFinished(outcome, closeConnection: false)
            }
            return ended(outcome)
        case .positiveIntermediate, .invalid:
            state = .dotReply(progress)
            return fail("unexpected reply to the final dot: \(reply)", reply: reply)
        }
    }

    /// A transaction that failed: RSET (RFC 5321 §4.1.1.5) so the next one starts clean, and report
    /// the outcome once the relay agreed.
    private mutating func ended(_ outcome: TransactionStart) -> Action {
        state = .resetting(outcome)
        return .send([.rset], .command)
    }

    mutating func resetReplied(_ reply: SMTPReply, _ outcome: TransactionStart) -> Action {
        guard reply.kind == .positiveCompletion else {
            state = .closed(reason: "RSET refused: \(reply)")
            return .transactionFinished(outcome, closeConnection: true)
        }
        state = .ready
        return .transactionFinished(outcome, closeConnection: false)
    }

    // MARK: Before MAIL

    /// Why this relay cannot take the message at all, decided before MAIL so nothing is half-sent.
    private func refusal(of envelope: Envelope) -> DeliveryResult? {
        let relay = configuration.relay
        if envelope.recipients.isEmpty {
            return DeliveryResult(relay: relay, recipients: [], error: "the message has no recipients")
        }
        // A CR or LF in an address would end the command and start another (command injection);
        // angle brackets would end the path. The addresses were validated at enqueue; this is the
        // last line of defence.
        let unsafe =
            Self.isSafePath(envelope.sender) ? envelope.recipients.first { !Self.isSafePath($0) } : envelope.sender
        if let unsafe {
            let shown = SMTPReplyParser.sanitize(Array(unsafe.utf8))
            return .failedAll(relay: relay, recipients: envelope.recipients, reason: "invalid address <\(shown)>")
        }
        let international = envelope.firstInternationalAddress
        if (envelope.needsSMTPUTF8 || international != nil) && !capabilities.smtpUTF8 {
            // RFC 6531 §3.2: without SMTPUTF8 offered, such a message cannot be sent to this relay.
            let what = international.map { "<\($0)>" } ?? "its non-ASCII header fields"
            return .failedAll(
                relay: relay, recipients: envelope.recipients,
                reason: "relay does not support SMTPUTF8, needed for \(what)")
        }
        if let limit = capabilities.sizeLimit, envelope.size > limit {
            // RFC 1870 §6: a message larger than the declared SIZE would be refused anyway.
            return .failedAll(
                relay: relay, recipients: envelope.recipients,
                reason: "message of \(envelope.size) octets exceeds the relay's size limit of \(limit) octets")
        }
        return nil
    }

    /// MAIL parameters, each only when the relay offered the extension.
    private func mailParameters(for envelope: Envelope) -> [String] {
        var parameters: [String] = []
        if capabilities.size { parameters.append("SIZE=\(max(envelope.size, 0))") }
        if capabilities.eightBitMIME && envelope.has8BitData { parameters.append("BODY=8BITMIME") }
        if capabilities.smtpUTF8
            && (envelope.needsSMTPUTF8 || envelope.prefersSMTPUTF8 || envelope.firstInternationalAddress != nil)
        {
            parameters.append("SMTPUTF8")
        }
        return parameters
    }

    private static func isSafePath(_ address: String) -> Bool {
        // All four are ASCII, and in UTF-8 an ASCII byte is never part of another character.
        !address.utf8.contains { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }
    }

    private func earlyEnd(_ envelope: Envelope, _ result: DeliveryResult) -> TransactionStart {
        TransactionStart(transactionID: 0, recipients: envelope.recipients, finished: result)
    }
}
