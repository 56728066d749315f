import MailCore

/// A message to store: its final bytes (built once, at enqueue) and its envelope.
public struct NewMessage: Sendable {
    public var company: String?
    public var kind: MessageKind
    public var messageID: String
    public var envelopeFrom: String
    /// The From address, for listings.
    public var fromAddress: String
    public var subject: String
    public var recipients: [String]
    public var data: [UInt8]
    public var needsSMTPUTF8: Bool
    public var has8BitData: Bool
    /// SMTPUTF8 where offered (see `ComposedMessage.prefersSMTPUTF8`).
    public var prefersSMTPUTF8 = false
    public var idempotencyKey: String?

    public init(
        company: String?, kind: MessageKind, messageID: String, envelopeFrom: String, fromAddress: String,
        subject: String, recipients: [String], data: [UInt8], needsSMTPUTF8: Bool, has8BitData: Bool,
        idempotencyKey: String?
    ) {
        self.company = company
        self.kind = kind
        self.messageID = messageID
        self.envelopeFrom = envelopeFrom
        self.fromAddress = fromAddress
        self.subject = subject
        self.recipients = recipients
        self.data = data
        self.needsSMTPUTF8 = needsSMTPUTF8
        self.has8BitData = has8BitData
        self.idempotencyKey = idempotencyKey
    }
}

/// The answer to an enqueue: the message's id, and whether an earlier message with the same
/// idempotency key was found instead.
public struct EnqueueOutcome: Sendable, Equatable {
    public var id: Int64
    public var duplicate: Bool
}

/// A recipient still to be delivered, with its position in the message.
public struct PendingRecipient: Sendable, Equatable {
    public var position: Int
    public var address: String
}

/// A message claimed for delivery (state `sending`). Its bytes are read separately, just before sending.
public struct ClaimedMessage: Sendable, Equatable {
    public var id: Int64
    public var company: String?
    public var envelopeFrom: String
    public var recipients: [PendingRecipient]
    public var size: Int
    public var needsSMTPUTF8: Bool
    public var has8BitData: Bool
    public var prefersSMTPUTF8 = false
    /// The time max_age counts from.
    public var ageFrom: Timestamp
    /// Attempts made before this one.
    public var attempts: Int
}

/// Why an outbox operation was refused.
public enum OutboxError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    /// The message's state does not allow the operation.
    case conflict(String)
    /// Storage failed (disk full, I/O error) or the outbox is closing.
    case unavailable(String)

    public var description: String {
        switch self {
        case .notFound(let s), .conflict(let s), .unavailable(let s): return s
        }
    }
}

extension NewMessage {
    /// The `smtputf8` column: 0 none, 1 the relay must offer SMTPUTF8, 2 asked for where offered.
    static let smtpUTF8Needed = 1
    static let smtpUTF8Preferred = 2
    var smtpUTF8Column: Int { needsSMTPUTF8 ? Self.smtpUTF8Needed : prefersSMTPUTF8 ? Self.smtpUTF8Preferred : 0 }
}
