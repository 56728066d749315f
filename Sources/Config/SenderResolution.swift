import MailCore

/// The sender fields of a message, as SPEC §2.3 decides them.
public struct SenderDecision: Sendable, Equatable {
    /// The From header.
    public var from: Mailbox
    /// The Reply-To header, if any.
    public var replyTo: Mailbox?
    /// MAIL FROM: always the address in From.
    public var envelopeFrom: EmailAddress { from.address }

    public init(from: Mailbox, replyTo: Mailbox?) {
        self.from = from
        self.replyTo = replyTo
    }
}

/// SPEC §2.3 as one pure function.
public enum SenderResolution {
    /// - Parameters:
    ///   - kind: `system` (no acting user) or `user`.
    ///   - from: the message's `from`, if it has one.
    ///   - replyTo: the message's `reply_to`, if it has one; it is kept in every case (the caller asked for it).
    ///   - defaultSender: D, from `Configuration.defaultSender(for:)`.
    public static func resolve(
        kind: MessageKind, from: Mailbox?, replyTo: Mailbox?, defaultSender: Mailbox, allNotifications: Bool,
        onBehalf: OnBehalf
    ) -> SenderDecision {
        // System mail, forced default sender, or no user given: From is D.
        guard kind == .user, !allNotifications, let user = from else {
            return SenderDecision(from: defaultSender, replyTo: replyTo)
        }
        switch onBehalf {
        case .from:
            return SenderDecision(from: user, replyTo: replyTo)
        case .replyTo:
            // "Ana Lima via Platform" <D>: the user's name, D's address, so the relay only ever sees D
            // (SPF/DMARC-aligned), while replies still reach the user. A user without a name gives D as it
            // is: an address inside a display name is what spoofed mail looks like, and filters say so.
            guard let userName = user.displayName else {
                return SenderDecision(from: defaultSender, replyTo: replyTo ?? user)
            }
            let name = defaultSender.displayName.map { "\(userName) via \($0)" } ?? userName
            return SenderDecision(
                from: Mailbox(displayName: name, address: defaultSender.address), replyTo: replyTo ?? user)
        }
    }
}
