import Logging
import MailCore

extension SMTPConnection {
    /// MAIL FROM, every RCPT TO and DATA: in one write when the relay offers PIPELINING (RFC 2920),
    /// else one by one; every reply is checked, in order. A message this relay cannot take (too large
    /// for its SIZE, needing SMTPUTF8 it lacks) fails before MAIL. After a failed transaction on a
    /// usable connection, RSET has been sent and answered before this returns.
    public func beginTransaction(_ envelope: Envelope) -> TransactionStart {
        let action = drive(machine.beginTransaction(envelope))
        switch action {
        case .transactionReady(let start):
            return start
        case .transactionFinished(let start, _):
            log(start)
            return start
        default:
            return internalError(action, recipients: envelope.recipients)
        }
    }

    /// Sends the message data, dot-stuffed on the wire (RFC 5321 §4.5.2), and the final dot; waits up
    /// to `finalReplyTimeout` for the reply. When that reply never comes the result is `uncertain`.
    /// When the relay offers PIPELINING, what comes next goes out in the same write as the final dot:
    /// - `thenQuit`: this is the session's last transaction; QUIT follows, and the connection is then no
    ///   longer usable (call `close()` to read QUIT's reply);
    /// - `thenBegin`: the next message's envelope; its MAIL, RCPT… and DATA follow, and the next
    ///   `beginTransaction` with that same envelope reads their replies instead of sending them again.
    public func finishTransaction(
        _ start: TransactionStart, data: [UInt8], thenQuit: Bool = false, thenBegin next: Envelope? = nil
    ) -> DeliveryResult {
        if let finished = start.finished { return finished }
        pendingData = data
        defer { pendingData = nil }
        let action = drive(
            machine.sendMessageData(
                transaction: start.transactionID, recipients: start.recipients, thenQuit: thenQuit, thenBegin: next))
        switch action {
        case .transactionFinished(let outcome, _):
            log(outcome)
            return outcome.finished
                ?? DeliveryResult.deferredAll(
                    relay: options.relay.endpoint, recipients: start.recipients, reason: "internal error: no outcome")
        default:
            return internalError(action, recipients: start.recipients).finished!
        }
    }

    /// One message: `beginTransaction`, then `finishTransaction` when DATA was accepted.
    public func send(_ envelope: Envelope, data: [UInt8]) -> DeliveryResult {
        finishTransaction(beginTransaction(envelope), data: data)
    }

    /// Notes the outcome in the transcript (the `test` request shows it) and the log.
    private func log(_ outcome: TransactionStart) {
        guard let result = outcome.finished, transcript != nil || logger.logLevel <= .debug else { return }
        var line = "-- \(result.summary)"
        if let error = result.error { line += ": \(error)" }
        if result.uncertain { line += " (uncertain: the relay may have accepted the message)" }
        record(line)
        var metadata: Logger.Metadata = ["outcome": "\(result.summary)", "recipients": "\(result.recipients.count)"]
        if let error = result.error { metadata["reason"] = "\(error)" }
        if result.uncertain { metadata["uncertain"] = "true" }
        logger.debug("smtp transaction finished", metadata: metadata)
    }

    private func internalError(_ action: SessionStateMachine.Action, recipients: [String]) -> TransactionStart {
        closeTransport()
        let result = DeliveryResult.deferredAll(
            relay: options.relay.endpoint, recipients: recipients, reason: "internal error: unexpected \(action)")
        return TransactionStart(transactionID: 0, recipients: recipients, finished: result)
    }
}
