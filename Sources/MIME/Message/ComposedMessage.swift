/// A message ready to be stored and sent: its bytes and its envelope.
public struct ComposedMessage: Sendable, Equatable {
    /// The final RFC 5322 message, CRLF line ends, ending in CRLF, NOT dot-stuffed (the SMTP layer does that).
    public var bytes: [UInt8]
    /// The Message-ID, without angle brackets.
    public var messageID: String
    /// The addr-spec of the envelope sender (MAIL FROM).
    public var envelopeFrom: String
    /// Envelope recipients (to + cc + bcc, or the raw form's list), duplicates removed (case-insensitive), order
    /// kept.
    public var recipients: [String]
    /// The relay must offer SMTPUTF8 (RFC 6531): some envelope address is non-ASCII, or (for a composed message)
    /// a header carries a non-ASCII address, which RFC 6532 allows only in UTF-8 and only with SMTPUTF8.
    public var needsSMTPUTF8: Bool
    /// Some byte of `bytes` is >= 0x80. The composer writes only ASCII except a non-ASCII address in a header
    /// (RFC 6532), so for composed mail this implies `needsSMTPUTF8`; a ready-made message may have 8-bit bodies
    /// or headers, and then needs at least 8BITMIME (RFC 6152).
    public var has8BitData: Bool
    /// Ask for SMTPUTF8 where the relay offers it, and send without it where it does not: a ready-made
    /// message with UTF-8 in its header section (RFC 6532 wants SMTPUTF8 for it; its envelope is ASCII, so
    /// like other 8-bit mail it is not refused by a relay without the extension).
    public var prefersSMTPUTF8 = false
    /// The human-readable (decoded) subject, for listings.
    public var subject: String
    /// The addr-spec of the From header.
    public var fromAddress: String

    /// A message with every field given (the composer and the raw preparer make these; tests and stores too).
    public init(
        bytes: [UInt8], messageID: String, envelopeFrom: String, recipients: [String], needsSMTPUTF8: Bool,
        has8BitData: Bool, subject: String, fromAddress: String
    ) {
        self.bytes = bytes
        self.messageID = messageID
        self.envelopeFrom = envelopeFrom
        self.recipients = recipients
        self.needsSMTPUTF8 = needsSMTPUTF8
        self.has8BitData = has8BitData
        self.subject = subject
        self.fromAddress = fromAddress
    }
}
