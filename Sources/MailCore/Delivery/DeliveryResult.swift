/// What one attempt did for one recipient.
public enum RecipientDisposition: Sendable, Equatable {
    /// Accepted (2xx to the final dot); the reply is kept.
    case delivered(String)
    /// Refused for good (5xx): never tried again.
    case failed(String)
    /// Not delivered this time (4xx, or the attempt failed as a whole): tried again later.
    case deferred(String)

    public var reply: String {
        switch self {
        case .delivered(let r), .failed(let r), .deferred(let r): return r
        }
    }
}

/// The result of one delivery attempt of one message: per-recipient dispositions plus, when the
/// attempt failed as a whole, the reason a person can act on.
public struct DeliveryResult: Sendable, Equatable {
    /// `host:port` of the relay.
    public var relay: String
    /// One entry per recipient that was attempted, in envelope order.
    public var recipients: [(address: String, disposition: RecipientDisposition)]
    /// The reason the attempt as a whole failed (e.g. "connection refused by 127.0.0.1:25"), if it did.
    public var error: String?
    /// The message's data was sent but its final-dot reply never came: it may have been delivered.
    public var uncertain: Bool

    public init(
        relay: String, recipients: [(address: String, disposition: RecipientDisposition)], error: String? = nil,
        uncertain: Bool = false
    ) {
        self.relay = relay
        self.recipients = recipients
        self.error = error
        self.uncertain = uncertain
    }

    /// Every recipient deferred with the same reason: the attempt never reached the transaction.
    public static func deferredAll(relay: String, recipients: [String], reason: String, uncertain: Bool = false)
        -> DeliveryResult
    {
        DeliveryResult(
            relay: relay, recipients: recipients.map { ($0, .deferred(reason)) }, error: reason, uncertain: uncertain)
    }

    /// Every recipient failed for good with the same reason (e.g. the relay lacks SMTPUTF8).
    public static func failedAll(relay: String, recipients: [String], reason: String) -> DeliveryResult {
        DeliveryResult(relay: relay, recipients: recipients.map { ($0, .failed(reason)) }, error: reason)
    }

    /// A short outcome for attempt records: "delivered", "failed", "deferred" or "partial".
    public var summary: String {
        // One bit per kind of disposition seen (a Set and three Set literals cost more than the record's
        // statements' binding, for every attempt).
        var kinds: UInt8 = 0
        for recipient in recipients {
            switch recipient.disposition {
            case .delivered: kinds |= 1
            case .failed: kinds |= 2
            case .deferred: kinds |= 4
            }
        }
        switch kinds {
        case 1: return "delivered"
        case 2: return "failed"
        case 4: return "deferred"
        default: return "partial"
        }
    }

    public static func == (lhs: DeliveryResult, rhs: DeliveryResult) -> Bool {
        lhs.relay == rhs.relay && lhs.error == rhs.error && lhs.uncertain == rhs.uncertain
            && lhs.recipients.count == rhs.recipients.count
            && zip(lhs.recipients, rhs.recipients).allSatisfy { $0.address == $1.address && $0.disposition == $1.disposition }
    }
}
