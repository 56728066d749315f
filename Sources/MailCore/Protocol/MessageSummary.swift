/// What `list` shows of a message, and the head of what `show` shows (SPEC §3).
public struct MessageSummary: Sendable, Equatable {
    public var id: String
    public var company: String?
    public var state: MessageState
    public var subject: String
    /// The From header's address.
    public var from: String
    /// The envelope recipients.
    public var to: [String]
    public var createdAt: Timestamp
    public var nextAttemptAt: Timestamp?
    public var attempts: Int
    public var lastError: String?

    public init(
        id: String, company: String?, state: MessageState, subject: String, from: String, to: [String],
        createdAt: Timestamp, nextAttemptAt: Timestamp?, attempts: Int, lastError: String?
    ) {
        self.id = id
        self.company = company
        self.state = state
        self.subject = subject
        self.from = from
        self.to = to
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.attempts = attempts
        self.lastError = lastError
    }

    public var jsonMembers: [(String, JSONValue)] {
        [
            ("id", .string(id)),
            ("company", company.map(JSONValue.string) ?? .null),
            ("state", .string(state.rawValue)),
            ("subject", .string(subject)),
            ("from", .string(from)),
            ("to", .array(to.map(JSONValue.string))),
            ("created_at", .string(createdAt.rfc3339)),
            ("next_attempt_at", nextAttemptAt.map { .string($0.rfc3339) } ?? .null),
            ("attempts", .int(attempts)),
            ("last_error", lastError.map(JSONValue.string) ?? .null),
        ]
    }

    public var json: JSONValue { .object(jsonMembers) }
}

/// One recipient in `show`.
public struct RecipientStatus: Sendable, Equatable {
    public var address: String
    public var state: RecipientState
    public var reply: String?

    public init(address: String, state: RecipientState, reply: String?) {
        self.address = address
        self.state = state
        self.reply = reply
    }

    public var json: JSONValue {
        ["address": .string(address), "state": .string(state.rawValue), "reply": reply.map(JSONValue.string) ?? .null]
    }
}

/// One delivery attempt in `show`.
public struct AttemptRecord: Sendable, Equatable {
    public var at: Timestamp
    public var relay: String
    /// "delivered", "failed", "deferred" or "partial".
    public var outcome: String
    public var error: String?
    /// The final-dot reply never came: the message may have been delivered in this attempt.
    public var uncertain: Bool

    public init(at: Timestamp, relay: String, outcome: String, error: String?, uncertain: Bool) {
        self.at = at
        self.relay = relay
        self.outcome = outcome
        self.error = error
        self.uncertain = uncertain
    }

    public var json: JSONValue {
        [
            "at": .string(at.rfc3339), "relay": .string(relay), "outcome": .string(outcome),
            "error": error.map(JSONValue.string) ?? .null, "uncertain": .bool(uncertain),
        ]
    }
}

/// Everything `show` answers about a message.
public struct MessageDetail: Sendable, Equatable {
    public var summary: MessageSummary
    public var messageID: String
    public var envelopeFrom: String
    public var size: Int
    public var recipients: [RecipientStatus]
    public var attempts: [AttemptRecord]

    public init(
        summary: MessageSummary, messageID: String, envelopeFrom: String, size: Int, recipients: [RecipientStatus],
        attempts: [AttemptRecord]
    ) {
        self.summary = summary
        self.messageID = messageID
        self.envelopeFrom = envelopeFrom
        self.size = size
        self.recipients = recipients
        self.attempts = attempts
    }

    /// True when some attempt's outcome is uncertain (its final-dot reply never came).
    public var uncertain: Bool { attempts.contains(where: \.uncertain) }

    /// The summary's members with `attempts` as the list of attempts rather than their count (the two
    /// share a name in SPEC §3; the count is the list's length).
    public var json: JSONValue {
        var members = summary.jsonMembers.filter { $0.0 != "attempts" }
        members.append(("message_id", .string(messageID)))
        members.append(("envelope_from", .string(envelopeFrom)))
        members.append(("size", .int(size)))
        members.append(("uncertain", .bool(uncertain)))
        members.append(("recipients", .array(recipients.map(\.json))))
        members.append(("attempts", .array(attempts.map(\.json))))
        return .object(members)
    }
}
