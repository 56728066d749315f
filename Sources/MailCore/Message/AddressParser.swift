/// Why an address was refused.
public struct AddressError: Error, Sendable, CustomStringConvertible, Equatable {
    public let reason: String
    public var description: String { reason }
}

extension Mailbox {
    /// Parses one RFC 5322 mailbox: `a@b`, `Name <a@b>`, `"Silva, Ana" <a@b>`, with UTF-8 allowed in the
    /// display name and (RFC 6532) in the address. Comments and group syntax are not accepted.
    public static func parse(_ text: String) throws(AddressError) -> Mailbox {
        if text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) {
            throw AddressError(reason: "contains a line break")
        }
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw AddressError(reason: "is empty") }
        let scalars = Array(trimmed.unicodeScalars)
        guard scalars.last == ">" else {
            return Mailbox(address: try EmailAddress.parse(trimmed))
        }
        // name-addr: find the "<" that opens the angle-addr, outside any quoted string.
        var inQuotes = false
        var escaped = false
        var open: Int?
        for (i, s) in scalars.enumerated() {
            if escaped { escaped = false; continue }
            if inQuotes && s == "\\" { escaped = true; continue }
            if s == "\"" { inQuotes.toggle(); continue }
            if !inQuotes && s == "<" { open = i; break }
        }
        guard let open else { throw AddressError(reason: "has '>' without '<'") }
        let inner = String(String.UnicodeScalarView(scalars[(open + 1)..<(scalars.count - 1)]))
        let address = try EmailAddress.parse(inner.trimmingSpaces)
        let phrase = String(String.UnicodeScalarView(scalars[..<open])).trimmingSpaces
        return Mailbox(displayName: try parseDisplayName(phrase), address: address)
    }

    /// Parses a comma-separated list of mailboxes (commas inside quotes do not split).
    public static func parseList(_ text: String) throws(AddressError) -> [Mailbox] {
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
        var result: [Mailbox] = []
        for part in parts where !part.trimmingSpaces.isEmpty {
            result.append(try parse(part))
        }
        return result
    }

    private static func parseDisplayName(_ phrase: String) throws(AddressError) -> String? {
        if phrase.isEmpty { return nil }
        let scalars = Array(phrase.unicodeScalars)
        if scalars.first == "\"" {
            guard scalars.count >= 2, scalars.last == "\"" else {
                throw AddressError(reason: "has an unterminated quoted display name")
            }
            var out = String.UnicodeScalarView()
            var escaped = false
            for s in scalars[1..<(scalars.count - 1)] {
                if escaped {
                    out.append(s)
                    escaped = false
                } else if s == "\\" {
                    escaped = true
                } else if s == "\"" {
                    throw AddressError(reason: "has a stray '\"' in its display name")
                } else {
                    out.append(s)
                }
            }
            if escaped { throw AddressError(reason: "has an unterminated quoted display name") }
            return String(out)
        }
        // An unquoted phrase: atoms (and '.', as obs-phrase allows), no other specials.
        for s in scalars where "()<>[]:;@\\,\"".unicodeScalars.contains(s) {
            throw AddressError(reason: "has '\(s)' in its display name; put the name in double quotes")
        }
        return phrase
    }
}

extension EmailAddress {
    /// The characters RFC 5322 §3.2.3 allows in an atom besides letters and digits.
    static let atextSpecials = Set("!#$%&'*+-/=?^_`{|}~".unicodeScalars)

    /// Parses an addr-spec: a dot-atom or quoted-string local part, and a host name or domain literal.
    public static func parse(_ text: String) throws(AddressError) -> EmailAddress {
        if text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) {
            throw AddressError(reason: "contains a line break")
        }
        guard let at = text.unicodeScalars.lastIndex(of: "@") else {
            throw AddressError(reason: "'\(text)' has no '@'")
        }
        let local = String(text.unicodeScalars[..<at])
        let domain = String(text.unicodeScalars[text.unicodeScalars.index(after: at)...])
        try validateLocalPart(local, in: text)
        try validateDomain(domain, in: text)
        return EmailAddress(localPart: local, domain: domain)
    }

    private static func validateLocalPart(_ local: String, in text: String) throws(AddressError) {
        guard !local.isEmpty else { throw AddressError(reason: "'\(text)' has an empty local part") }
        guard local.utf8.count <= 64 else { throw AddressError(reason: "'\(text)' has a local part over 64 octets") }
        let scalars = Array(local.unicodeScalars)
        if scalars.first == "\"" {
            guard scalars.count >= 2, scalars.last == "\"" else {
                throw AddressError(reason: "'\(text)' has an unterminated quoted local part")
            }
            var escaped = false
            for s in scalars[1..<(scalars.count - 1)] {
                if escaped { escaped = false; continue }
                if s == "\\" { escaped = true; continue }
                if s == "\"" || s.value < 0x20 || s.value == 0x7F {
                    throw AddressError(reason: "'\(text)' has an invalid quoted local part")
                }
            }
            if escaped { throw AddressError(reason: "'\(text)' has an invalid quoted local part") }
            return
        }
        for atom in local.split(separator: ".", omittingEmptySubsequences: false) {
            guard !atom.isEmpty else {
                throw AddressError(reason: "'\(text)' has an empty part between dots in its local part")
            }
            for s in atom.unicodeScalars where !isAtext(s) {
                throw AddressError(reason: "'\(text)' has '\(s)' in its local part")
            }
        }
    }

    static func isAtext(_ s: Unicode.Scalar) -> Bool {
        if s.value >= 0x80 { return s.properties.isAlphabetic || s.properties.numericType != nil || s.value >= 0xA0 }
        return ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
            || atextSpecials.contains(s)
    }

    private static func validateDomain(_ domain: String, in text: String) throws(AddressError) {
        guard !domain.isEmpty else { throw AddressError(reason: "'\(text)' has an empty domain") }
        if domain.hasPrefix("[") {
            guard domain.hasSuffix("]"), domain.count > 2 else {
                throw AddressError(reason: "'\(text)' has an invalid domain literal")
            }
            let inner = domain.dropFirst().dropLast()
            let ok = inner.unicodeScalars.allSatisfy {
                ("0"..."9").contains($0) || ("a"..."f").contains($0) || ("A"..."F").contains($0) || $0 == "."
                    || $0 == ":" || $0 == "I" || $0 == "P" || $0 == "v" || $0 == "6"
            }
            guard ok else { throw AddressError(reason: "'\(text)' has an invalid domain literal") }
            return
        }
        guard domain.utf8.count <= 253 else { throw AddressError(reason: "'\(text)' has a domain over 253 octets") }
        for label in domain.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw AddressError(reason: "'\(text)' has an empty label in its domain") }
            guard label.utf8.count <= 63 else {
                throw AddressError(reason: "'\(text)' has a domain label over 63 octets")
            }
            guard label.first != "-", label.last != "-" else {
                throw AddressError(reason: "'\(text)' has a domain label that starts or ends with '-'")
            }
            for s in label.unicodeScalars {
                let ok = ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || s == "-"
                    || (s.value >= 0x80 && (s.properties.isAlphabetic || s.properties.numericType != nil))
                guard ok else { throw AddressError(reason: "'\(text)' has '\(s)' in its domain") }
            }
        }
    }
}
