/// An RFC 5321 mailbox address (addr-spec): `local-part@domain`, as used in the SMTP envelope.
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
    /// The local part exactly as it is written, quotes included when it is a quoted string.
    public let localPart: String
    /// The domain: a host name (possibly internationalised, in UTF-8) or a domain literal `[…]`.
    public let domain: String

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    /// `local-part@domain`.
    public var string: String { "\(localPart)@\(domain)" }
    public var description: String { string }

    /// True when the address has non-ASCII characters, so the relay must offer SMTPUTF8 (RFC 6531).
    public var needsSMTPUTF8: Bool { !string.utf8.allSatisfy { $0 < 0x80 } }
}

/// An address with an optional display name: `Ana Silva <ana@example.com>`.
public struct Mailbox: Sendable, Hashable, CustomStringConvertible {
    public var displayName: String?
    public var address: EmailAddress

    public init(displayName: String? = nil, address: EmailAddress) {
        let trimmed = displayName?.trimmingSpaces
        self.displayName = (trimmed?.isEmpty ?? true) ? nil : trimmed
        self.address = address
    }

    /// A readable form (not header-encoded): `Ana Silva <ana@example.com>` or `ana@example.com`.
    public var description: String {
        guard let name = displayName else { return address.string }
        return "\(name) <\(address.string)>"
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    public var trimmingSpaces: String {
        let bytes = utf8
        guard let head = bytes.first, let tail = bytes.last else { return self }
        // Nothing to trim (the usual case): no scalar view to walk.
        if head != 0x20 && head != 0x09 && tail != 0x20 && tail != 0x09 { return self }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return String(scalars[first...last])
    }
}
