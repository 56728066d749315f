/// Who triggered a message (SPEC §2.3): a user, or the system itself (user creation, password recovery,
/// connection test — no acting user).
public enum MessageKind: String, Sendable, CaseIterable {
    case user
    case system
}

/// A file attached to a message, its bytes already decoded from base64.
public struct Attachment: Sendable, Equatable {
    public var filename: String
    public var contentType: String
    public var data: [UInt8]

    public init(filename: String, contentType: String, data: [UInt8]) {
        self.filename = filename
        self.contentType = contentType
        self.data = data
    }
}

/// The message object of an `enqueue` request, as the client sent it (SPEC §3). Its JSON types are
/// checked; its addresses and headers are validated later, by the composer.
public struct MessageRequest: Sendable, Equatable {
    public var company: String?
    public var kind: MessageKind = .user
    public var from: String?
    public var to: [String] = []
    public var cc: [String] = []
    public var bcc: [String] = []
    public var replyTo: String?
    public var subject: String?
    public var text: String?
    public var html: String?
    public var attachments: [Attachment] = []
    /// Extra header fields in the order given.
    public var headers: [HeaderField] = []

    public init() {}
}

/// One header field: a name and its unencoded value.
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The ready-made form of the message object (what `sendmail` hands over): RFC 5322 bytes plus an
/// envelope.
public struct RawMessageRequest: Sendable, Equatable {
    public var company: String?
    public var raw: [UInt8]
    public var recipients: [String]
    /// The envelope sender; when nil, the message's From address.
    public var from: String?

    public init(company: String?, raw: [UInt8], recipients: [String], from: String?) {
        self.company = company
        self.raw = raw
        self.recipients = recipients
        self.from = from
    }
}

/// What an `enqueue` carries: a message to compose, or a ready-made one.
public enum MessageSubmission: Sendable, Equatable {
    case compose(MessageRequest)
    case raw(RawMessageRequest)

    public var company: String? {
        switch self {
        case .compose(let m): return m.company
        case .raw(let r): return r.company
        }
    }
}

/// Company ids (SPEC §2.2): `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
public enum CompanyID {
    public static func isValid(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool {
            (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
        }
        guard alnum(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { alnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    public static let rule = "a company id is 1 to 64 of A-Z a-z 0-9 . _ - and starts with a letter or digit"
}
