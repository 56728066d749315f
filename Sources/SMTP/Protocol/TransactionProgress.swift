import MailCore

/// One mail transaction's bookkeeping (RFC 5321 §3.3): which of MAIL, RCPT… and DATA were sent,
/// which replies are still owed, in order, and what they mean for each recipient. Pure.
struct TransactionProgress: Sendable, Equatable {
    enum Step: Sendable, Equatable {
        case mail
        case rcpt(Int)
        case data

        var verb: String {
            switch self {
            case .mail: return "MAIL"
            case .rcpt: return "RCPT"
            case .data: return "DATA"
            }
        }
    }

    /// What the machine does after a reply was recorded.
    enum Next: Sendable, Equatable {
        /// More replies of the pipelined group are owed.
        case awaitReply
        /// Without PIPELINING: the next command.
        case send([SMTPCommand])
        /// DATA got 354 and there is someone to send to.
        case dataAccepted
        /// The transaction ended before the data (MAIL, every RCPT or DATA refused).
        case ended
        /// A reply that makes no sense here; the connection cannot be trusted to be in step.
        case outOfStep(String)
    }

    let id: Int
    let envelope: Envelope
    let pipelined: Bool
    let mailParameters: [String]
    /// The commands are MAIL, one RCPT per recipient and DATA, in that order (`step(at:)`); those before
    /// `awaited` are answered, those from `awaited` to `sent` are owed a reply, the rest are unsent.
    /// Two indices instead of arrays of steps: this runs for every reply of every message.
    private(set) var awaited = 0
    private(set) var sent = 0
    private(set) var mailReply: SMTPReply?
    private(set) var recipientReplies: [SMTPReply?]
    private(set) var dataReply: SMTPReply?
    private(set) var dotReply: SMTPReply?

    init(id: Int, envelope: Envelope, pipelined: Bool, mailParameters: [String]) {
        self.id = id
        self.envelope = envelope
        self.pipelined = pipelined
        self.mailParameters = mailParameters
        self.recipientReplies = Array(repeating: nil, count: envelope.recipients.count)
    }

    /// MAIL, RCPT… and DATA.
    private var stepCount: Int { envelope.recipients.count + 2 }

    private func step(at index: Int) -> Step {
        if index == 0 { return .mail }
        return index <= envelope.recipients.count ? .rcpt(index - 1) : .data
    }

    /// The reply now owed first, for reasons ("waiting for the reply to RCPT").
    var awaitedVerb: String { awaited < sent ? step(at: awaited).verb : "MAIL" }

    var mailAccepted: Bool { mailReply?.kind == .positiveCompletion }
    var acceptedCount: Int {
        // Counted in place: a filtered array just to count it cost more than the reply's parse.
        var count = 0
        for index in recipientReplies.indices where recipientReplies[index]?.kind == .positiveCompletion { count += 1 }
        return count
    }
    /// The relay took the message (2xx to the final dot).
    var completed: Bool { dotReply?.kind == .positiveCompletion }

    /// The first write: with PIPELINING, MAIL, every RCPT and DATA together (RFC 2920 §3.1 lets DATA
    /// end the group), so a message costs one round trip before its data; without it, MAIL alone.
    mutating func firstCommands() -> [SMTPCommand] {
        sent = pipelined ? stepCount : 1
        return (0..<sent).map { command(step(at: $0)) }
    }

    func command(_ step: Step) -> SMTPCommand {
        switch step {
        case .mail: return .mail(from: envelope.sender, parameters: mailParameters)
        case .rcpt(let i): return .rcpt(to: envelope.recipients[i])
        case .data: return .data
        }
    }

    /// Takes the next reply, which answers the oldest command still owed one (RFC 2920 §3.2: replies
    /// come in command order, and every one must be checked).
    mutating func record(_ reply: SMTPReply) -> Next {
        guard awaited < sent else { return .outOfStep("unexpected reply \(reply)") }
        let step = self.step(at: awaited)
        awaited += 1
        let isAnswer =
            reply.kind == .positiveCompletion || reply.kind == .transientNegative
            || reply.kind == .permanentNegative
        switch step {
        case .mail:
            guard isAnswer else { return .outOfStep("unexpected reply to MAIL: \(reply)") }
            mailReply = reply
        case .rcpt(let index):
            guard isAnswer else { return .outOfStep("unexpected reply to RCPT: \(reply)") }
            recipientReplies[index] = reply
        case .data:
            dataReply = reply
            if reply.code == 354 {
                // A relay must refuse DATA when nobody was accepted (RFC 2920 §3.1); if it does not,
                // sending anything now could deliver where no one asked.
                return mailAccepted && acceptedCount > 0
                    ? .dataAccepted : .outOfStep("relay accepted DATA although no recipient was accepted")
            }
            guard reply.kind == .transientNegative || reply.kind == .permanentNegative else {
                return .outOfStep("unexpected reply to DATA: \(reply)")
            }
            return .ended
        }
        if awaited < sent { return .awaitReply }
        // Nothing owed. Only without PIPELINING can commands remain unsent.
        guard mailAccepted, sent < stepCount else { return .ended }
        let next = self.step(at: sent)
        if next == .data && acceptedCount == 0 { return .ended }
        sent += 1
        return .send([command(next)])
    }

    /// Takes the reply to the final dot.
    mutating func recordDotReply(_ reply: SMTPReply) {
        dotReply = reply
    }

    /// What the caller sees while the data is pending.
    func start() -> TransactionStart {
        TransactionStart(
            transactionID: id, recipients: envelope.recipients, mailReply: mailReply,
            recipientReplies: recipientReplies, dataAccepted: dataReply?.code == 354)
    }

    /// The transaction's outcome. `failure` is the reason the session broke off (nil when every
    /// owed reply came); `uncertain` marks data sent whose final-dot reply never came.
    func finished(relay: String, failure: String?, uncertain: Bool) -> TransactionStart {
        var error = failure
        if error == nil {
            if let mailReply, !mailAccepted {
                error = mailReply.description
            } else if acceptedCount > 0, let dataReply, dataReply.code != 354 {
                error = dataReply.description
            } else if acceptedCount > 0, let dotReply, !completed {
                error = dotReply.description
            }
        }
        let recipients = envelope.recipients.indices.map { i in
            (address: envelope.recipients[i], disposition: disposition(of: i, failure: failure))
        }
        var outcome = start()
        outcome.finished = DeliveryResult(relay: relay, recipients: recipients, error: error, uncertain: uncertain)
        return outcome
    }

    /// One recipient's fate: the first refusal that concerns it decides; otherwise the final dot's
    /// reply; otherwise the session's failure defers it (SPEC §4: 2xx delivers, 5xx fails, 4xx defers).
    private func disposition(of index: Int, failure: String?) -> RecipientDisposition {
        if let mailReply, !mailAccepted { return Self.refusal(mailReply) }
        if let reply = recipientReplies[index] {
            guard reply.kind == .positiveCompletion else { return Self.refusal(reply) }
            if let dotReply { return completed ? .delivered(dotReply.description) : Self.refusal(dotReply) }
            if let dataReply, dataReply.code != 354 { return Self.refusal(dataReply) }
        }
        return .deferred(failure ?? "the transaction ended before this recipient was answered")
    }

    static func refusal(_ reply: SMTPReply) -> RecipientDisposition {
        reply.kind == .permanentNegative ? .failed(reply.description) : .deferred(reply.description)
    }
}
