/// The SMTP envelope of one message (RFC 5321 §2.3.1): who it is from and to, as addr-specs.
public struct Envelope: Sendable, Equatable {
    /// The reverse-path, e.g. "noreply@example.com"; "" is the null path (`MAIL FROM:<>`).
    public var sender: String
    /// The forward-paths, one RCPT TO each, in this order.
    public var recipients: [String]
    /// The message's size in octets, sent as SIZE= (RFC 1870) and checked against the relay's limit.
    public var size: Int
    /// The message needs SMTPUTF8 (RFC 6531): a non-ASCII address or header. Non-ASCII addresses in
    /// the envelope are detected here as well.
    public var needsSMTPUTF8: Bool
    /// The data has octets above 127, sent as BODY=8BITMIME (RFC 6152) where the relay offers it.
    public var has8BitData: Bool
    /// SMTPUTF8 is asked for where the relay offers it, and the message goes without it where it does not
    /// (UTF-8 in the headers of a ready-made message).
    public var prefersSMTPUTF8 = false

    public init(sender: String, recipients: [String], size: Int, needsSMTPUTF8: Bool = false, has8BitData: Bool = false)
    {
        self.sender = sender
        self.recipients = recipients
        self.size = size
        self.needsSMTPUTF8 = needsSMTPUTF8
        self.has8BitData = has8BitData
    }

    /// The first envelope address with a non-ASCII character, which only an SMTPUTF8 relay takes.
    var firstInternationalAddress: String? {
        // On bytes: a non-ASCII character is the only thing with a byte of 0x80 or more in UTF-8.
        let isInternational = { (address: String) in address.utf8.contains { $0 >= 0x80 } }
        return isInternational(sender) ? sender : recipients.first(where: isInternational)
    }
}
