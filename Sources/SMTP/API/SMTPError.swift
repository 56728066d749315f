import MailCore

/// Why a session could not be opened (or a transaction made): a reason a person can act on, and
/// the relay's reply when one caused it. Never contains a password or an AUTH payload.
public struct SMTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A 5xx-class problem that retrying will not fix; everything else defers (SPEC §4).
    public var isPermanent: Bool
    /// e.g. "relay does not offer STARTTLS", "timed out after 10 s waiting for the greeting".
    public var reason: String
    /// The reply that caused it, if any.
    public var reply: SMTPReply?
    /// This host could not open a connection (no file descriptors or memory left): the relay is not
    /// known to be down.
    public var isLocal = false

    public init(isPermanent: Bool = false, reason: String, reply: SMTPReply? = nil) {
        self.isPermanent = isPermanent
        self.reason = reason
        self.reply = reply
    }

    public var description: String { reason }
}
