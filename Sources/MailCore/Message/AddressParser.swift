/// Why an address was refused.
public struct AddressError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What is wrong, quoting the address, e.g. "'bob@' has an empty domain".
    public let reason: String
    public var description: String { reason }

    /// An error with `reason` (for parsers built on this one, such as the raw message preparer).
    public init(reason: String) { self.reason = reason }
}

extension Mailbox {
    /// Parses one RFC 5322 mailbox (§3.4): `a@b`, `Name <a@b>`, `"Silva, Ana" <a@b>`, `"Ana" Silva <a@b>`, with
    /// UTF-8 allowed in the display name and (RFC 6532 §3.2) in the address. Comments, group syntax and source
    /// routes are not accepted; a display name is returned with its quotes and quoted-pairs removed.
    public static func parse(_ text: String) throws(AddressError) -> Mailbox {
        if text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) {
            throw AddressError(reason: "'\(text.debugEscaped)' contains a line break")
        }
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw AddressError(reason: "the address is empty") }
        let scalars = Array(trimmed.unicodeScalars)
        guard scalars.last == ">" else {
            // Name the real mistake, not the odd character the address parser would meet first.
            if trimmed.utf8.contains(UInt8(ascii: ",")) && splitAtTopLevelCommas(trimmed).count > 1 {
                throw AddressError(
                    reason: "'\(trimmed)' holds more than one address; give each on its own")
            }
            if let close = scalars.lastIndex(of: ">"), scalars[..<close].contains("<") {
                throw AddressError(reason: "'\(trimmed)' has text after its '<…>'")
            }
            return Mailbox(address: try EmailAddress.parse(trimmed))
        }
        // name-addr = [display-name] angle-addr: the "<" that opens the angle-addr is the first one outside a
        // quoted string; anything after it but before the final ">" is the addr-spec.
        var inQuotes = false
        var escaped = false
        var open: Int?
        for (i, s) in scalars.enumerated() {
            if escaped {
                escaped = false
                continue
            }
            if inQuotes && s == "\\" {
                escaped = true
                continue
            }
            if s == "\"" {
                inQuotes.toggle()
                continue
            }
            if !inQuotes && s == "<" {
                open = i
                break
            }
        }
        guard let open else {
            if inQuotes { throw AddressError(reason: "'\(trimmed)' has an unterminated quoted display name") }
            throw AddressError(reason: "'\(trimmed)' has '>' without '<'")
        }
        let inner = String(String.UnicodeScalarView(scalars[(open + 1)..<(scalars.count - 1)])).trimmingSpaces
        if inner.unicodeScalars.contains(where: { $0 == "<" || $0 == ">" }) {
            throw AddressError(reason: "'\(trimmed)' has more than one '<…>'")
        }
        let address = try EmailAddress.parse(inner)
        let phrase = String(String.UnicodeScalarView(scalars[..<open])).trimmingSpaces
        return Mailbox(displayName: try parseDisplayName(phrase, in: trimmed), address: address)
    }

    /// Parses a comma-separated list of mailboxes (commas inside quotes or angle brackets do not split; empty
    /// elements are skipped, as RFC 5322 §4.4 obs-mbox-list allows).
    public static func parseList(_ text: String) throws(AddressError) -> [Mailbox] {
        let parts = splitAtTopLevelCommas(text)
        var result: [Mailbox] = []
        for part in parts where !part.trimmingSpaces.isEmpty {
            result.append(try parse(part))
        }
        return result
    }

    /// `text` split at each comma outside quotes and angle brackets.
    private static func splitAtTopLevelCommas(_ text: String) -> [String] {
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        var inQuotes = false
        var escaped = false
        var angle = 0
        for s in text.unicodeScalars {
            if escaped {
                escaped = false
            } else if inQuotes && s == "\\" {
                escaped = true
            } else if s == "\"" {
                inQuotes.toggle()
            } else if !inQuotes && s == "<" {
                angle += 1
            } else if !inQuotes && s == ">" {
                angle -= 1
            } else if !inQuotes && angle == 0 && s == "," {
                parts.append(String(current))
                current = String.UnicodeScalarView()
                continue
            }
            current.append(s)
        }
        parts.append(String(current))
        return parts
    }

    /// A display name is a phrase (RFC 5322 §3.2.5): words that are atoms or quoted strings, in any mix, with
    /// "." also allowed (obs-phrase, §4.1) and, per RFC 6532 §3.2, UTF-8 in both. Quotes and the backslash of
    /// quoted-pairs are removed; the whitespace between words is kept as written.
    private static func parseDisplayName(_ phrase: String, in text: String) throws(AddressError) -> String? {
        if phrase.isEmpty { return nil }
        var out = String.UnicodeScalarView()
        var inQuotes = false
        var escaped = false
        for s in phrase.unicodeScalars {
            if s.value < 0x20 && s != "\t" || s.value == 0x7F {
                throw AddressError(reason: "'\(text.debugEscaped)' has a control character in its display name")
            }
            if escaped {
                out.append(s)
                escaped = false
            } else if inQuotes {
                if s == "\\" {
                    escaped = true
                } else if s == "\"" {
                    inQuotes = false
                } else {
                    out.append(s)
                }
            } else if s == "\"" {
                inQuotes = true
            } else if Self.phraseSpecials.contains(s) {
                throw AddressError(reason: "'\(text)' has '\(s)' in its display name; put the name in double quotes")
            } else {
                out.append(s)
            }
        }
        if inQuotes || escaped { throw AddressError(reason: "'\(text)' has an unterminated quoted display name") }
        return String(out)
    }

    /// RFC 5322 §3.2.3 specials that may not appear in an unquoted phrase ("." is allowed by obs-phrase).
    private static let phraseSpecials = Set("()<>[]:;@\\,".unicodeScalars)
}

extension String {
    /// The text with control characters shown as escapes, so an error message quoting it stays on one line.
    var debugEscaped: String {
        guard unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return self }
        var out = ""
        for s in unicodeScalars { out += s.debugEscaped }
        return out
    }
}

extension Unicode.Scalar {
    var debugEscaped: String {
        switch value {
        case 0x0D: return "\\r"
        case 0x0A: return "\\n"
        case 0x09: return "\\t"
        case 0..<0x20, 0x7F, 0x80..<0xA0: return "\\u{\(String(value, radix: 16))}"
        default: return String(self)
        }
    }
}

/// Removes RFC 5322 §3.2.2 comments (nested parentheses, outside quoted strings) from a structured value, so
/// that `root@example.com (Cron Daemon)` parses as an address.
public func removingComments(_ text: String) -> String {
    guard text.utf8.contains(0x28) else { return text }
    var out = String.UnicodeScalarView()
    var depth = 0
    var inQuotes = false
    var escaped = false
    for s in text.unicodeScalars {
        if escaped {
            escaped = false
            if depth == 0 { out.append(s) }
            continue
        }
        if s == "\\" && (inQuotes || depth > 0) {
            escaped = true
            if depth == 0 { out.append(s) }
            continue
        }
        if depth == 0 && s == "\"" { inQuotes.toggle() }
        if !inQuotes && s == "(" {
            depth += 1
            continue
        }
        if !inQuotes && s == ")" && depth > 0 {
            depth -= 1
            if depth == 0 { out.append(" ") }
            continue
        }
        if depth == 0 { out.append(s) }
    }
    return String(out)
}
