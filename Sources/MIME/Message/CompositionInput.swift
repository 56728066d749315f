import MailCore

/// Everything the composer needs, with the sender already decided by the caller.
public struct CompositionInput: Sendable {
    /// The From mailbox; its address is also the envelope sender (SPEC §2.3).
    public var from: Mailbox
    public var replyTo: Mailbox?
    public var to: [Mailbox]
    public var cc: [Mailbox]
    /// Envelope recipients that never appear in a header.
    public var bcc: [Mailbox]
    public var subject: String
    public var text: String?
    public var html: String?
    public var attachments: [Attachment]
    /// Extra header fields, already allowed by `ExtraHeaderPolicy`.
    public var headers: [HeaderField]
    /// The Date of the message (the time of enqueue).
    public var date: Timestamp
    /// The Message-ID, without angle brackets; kept by the caller so that retries send the same one.
    public var messageID: String

    /// The input with every field given; recipients, bodies, attachments and headers default to none.
    public init(
        from: Mailbox, replyTo: Mailbox? = nil, to: [Mailbox] = [], cc: [Mailbox] = [], bcc: [Mailbox] = [],
        subject: String = "", text: String? = nil, html: String? = nil, attachments: [Attachment] = [],
        headers: [HeaderField] = [], date: Timestamp, messageID: String
    ) {
        self.from = from
        self.replyTo = replyTo
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.subject = subject
        self.text = text
        self.html = html
        self.attachments = attachments
        self.headers = headers
        self.date = date
        self.messageID = messageID
    }

    /// The input for a validated message, with the From and Reply-To that the sender rules (SPEC §2.3) chose.
    public init(_ message: ValidatedMessage, from: Mailbox, replyTo: Mailbox?, date: Timestamp, messageID: String) {
        self.init(
            from: from, replyTo: replyTo, to: message.to, cc: message.cc, bcc: message.bcc, subject: message.subject,
            text: message.text, html: message.html, attachments: message.attachments, headers: message.headers,
            date: date, messageID: messageID
        )
    }
}
