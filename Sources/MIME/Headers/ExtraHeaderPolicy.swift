/// Which extra header fields a message may carry (its `headers` object), and how their values are written.
///
/// Allowed: any name that starts with `X-` (case-insensitive) followed by at least one character, all of them
/// RFC 5322 §3.6.8 ftext (printable ASCII except ":"); and these, which notification mail needs to thread and to
/// be unsubscribed from:
///
/// - `In-Reply-To`, `References` (RFC 5322 §3.6.4): threading;
/// - `List-Unsubscribe` (RFC 2369 §3.2), `List-Unsubscribe-Post` (RFC 8058): one-click unsubscribe, which large
///   mailbox providers ask of bulk senders;
/// - `Auto-Submitted` (RFC 3834 §5): marks automatic mail so that auto-responders stay quiet;
/// - `Precedence` (de facto `bulk` / `list`): the same, for older auto-responders.
///
/// Anything else is refused, notably the fields maild writes itself (Date, Message-ID, MIME-Version, From, To,
/// Cc, Reply-To, Subject, Content-*), so a client can neither duplicate nor override them, and Bcc (never
/// written) and Sender (which would contradict the sender rules of SPEC §2.3).
/// Names are at most 76 octets, so that `Name: ` and one character still fit on a 78-character line; a name
/// given twice (in any case) is refused, since a JSON object that differs only in case is surely a mistake.
///
/// `X-` values are unstructured text: written as they are when they are printable ASCII, else as RFC 2047
/// encoded words. The allowed standard fields are structured (message ids, URLs, keywords), where encoded words
/// are not allowed, so their values must be printable ASCII.
public enum ExtraHeaderPolicy {
    /// The standard fields allowed besides `X-…`, in their usual spelling.
    public static let allowedNames = [
        "In-Reply-To", "References", "List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted", "Precedence",
    ]

    /// The fields a message may not set: those the composer writes, Bcc and Sender.
    public static let reservedNames = [
        "Date", "Message-ID", "MIME-Version", "From", "Sender", "To", "Cc", "Bcc", "Reply-To", "Subject",
        "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID", "Content-Description",
    ]

    /// The longest header name accepted, in octets.
    public static let maximumNameLength = 76

    private static let allowedLowercased = Set(allowedNames.map(ASCII.lowercased))
    private static let reservedLowercased = Set(reservedNames.map(ASCII.lowercased))

    /// Nil when `name` may be used, else why not.
    public static func refusal(forName name: String) -> String? {
        let utf8 = name.utf8
        if utf8.contains(where: ASCII.isLineBreak) { return "the header name contains a line break" }
        guard !utf8.isEmpty else { return "the header name is empty" }
        guard utf8.allSatisfy({ ASCII.isVisible($0) && $0 != 0x3A }) else {
            return "a header name is printable ASCII without spaces or ':' (RFC 5322 §3.6.8)"
        }
        guard utf8.count <= maximumNameLength else { return "the header name is over \(maximumNameLength) octets" }
        let lower = ASCII.lowercased(name)
        if reservedLowercased.contains(lower) {
            return "maild writes \(name) itself; use the message's own fields"
        }
        if lower.hasPrefix("x-") && utf8.count > 2 { return nil }
        if allowedLowercased.contains(lower) { return nil }
        return "only X- headers and \(allowedNames.joined(separator: ", ")) are allowed"
    }

    /// Whether the field is one of the structured standard ones (its value must be printable ASCII).
    static func isStructured(_ name: String) -> Bool { allowedLowercased.contains(ASCII.lowercased(name)) }
}
