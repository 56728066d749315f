import MailCore

/// A message request whose fields have been checked: addresses parsed, headers allowed.
///
/// Made only by `MessageValidator.validate`; every string in it is free of CR and LF, every attachment's
/// content type is a valid media type, and at least one recipient and one body exist.
public struct ValidatedMessage: Sendable {
    public var company: String?
    public var kind: MessageKind
    public var from: Mailbox?
    public var to: [Mailbox]
    public var cc: [Mailbox]
    public var bcc: [Mailbox]
    public var replyTo: Mailbox?
    /// The subject, "" when the request had none.
    public var subject: String
    /// The plain-text body; nil when absent or empty.
    public var text: String?
    /// The HTML body; nil when absent or empty.
    public var html: String?
    public var attachments: [Attachment]
    /// Extra header fields, allowed by `ExtraHeaderPolicy`, in the order given.
    public var headers: [HeaderField]
}
