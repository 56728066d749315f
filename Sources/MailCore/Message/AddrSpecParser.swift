/// RFC 5321/5322 addr-spec parsing: local parts, domains, address literals.
extension EmailAddress {
    /// The characters RFC 5322 §3.2.3 allows in an atom besides letters and digits.
    static let atextSpecials = Set("!#$%&'*+-/=?^_`{|}~".unicodeScalars)
    /// For each ASCII byte, whether it is atext (letters, digits and `atextSpecials`).
    static let asciiAtext: [Bool] = (0..<128).map { isAtext(Unicode.Scalar(UInt8($0))) }

    /// Parses an addr-spec (RFC 5322 §3.4.1, with the UTF-8 of RFC 6532 §3.2): a dot-atom or quoted-string local
    /// part of at most 64 octets, and a host name (labels of letters, digits and hyphens, or UTF-8 letters, marks
    /// and digits) or an IPv4 / `IPv6:` domain literal; at most 254 octets in all (RFC 5321 §4.5.3.1).
    /// No surrounding whitespace, comments or angle brackets.
    public static func parse(_ text: String) throws(AddressError) -> EmailAddress {
        if text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) {
            throw AddressError(reason: "'\(text.debugEscaped)' contains a line break")
        }
        guard !text.isEmpty else { throw AddressError(reason: "the address is empty") }
        // "@" is ASCII, so the index of its byte is also a scalar boundary.
        guard let at = text.utf8.lastIndex(of: 0x40) else {
            throw AddressError(reason: "'\(text)' has no '@'")
        }
        let local = String(text[..<at])
        let domain = String(text[text.utf8.index(after: at)...])
        try validateLocalPart(local, in: text)
        try validateDomain(domain, in: text)
        // RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
        guard text.utf8.count <= 254 else { throw AddressError(reason: "'\(text)' is longer than 254 octets") }
        return EmailAddress(localPart: local, domain: domain)
    }

    private static func validateLocalPart(_ local: String, in text: String) throws(AddressError) {
        guard !local.isEmpty else { throw AddressError(reason: "'\(text)' has an empty local part") }
        // RFC 5321 §4.5.3.1.1.
        guard local.utf8.count <= 64 else { throw AddressError(reason: "'\(text)' has a local part over 64 octets") }
        let scalars = Array(local.unicodeScalars)
        if scalars.first == "\"" {
            // quoted-string: qtext (printable except '"' and '\'), spaces, and quoted-pairs of printable characters.
            guard scalars.count >= 3, scalars.last == "\"" else {
                throw AddressError(reason: "'\(text)' has an invalid quoted local part")
            }
            var escaped = false
            for s in scalars[1..<(scalars.count - 1)] {
                let control = s.value < 0x20 && s != "\t" || s.value == 0x7F || (0x80..<0xA0).contains(s.value)
                if control { throw AddressError(reason: "'\(text.debugEscaped)' has a control character") }
                if escaped {
                    escaped = false
                    continue
                }
                if s == "\\" {
                    escaped = true
                    continue
                }
                if s == "\"" { throw AddressError(reason: "'\(text)' has an invalid quoted local part") }
                // Legal in a quoted local part, but an SMTP path is written <address>: maild will not send one
                // that a relay could read as ending the path early (SMTP parameter smuggling).
                if s == "<" || s == ">" {
                    throw AddressError(reason: "'\(text)' has '<' or '>' in its local part, which maild does not send")
                }
            }
            if escaped { throw AddressError(reason: "'\(text)' has an invalid quoted local part") }
            return
        }
        for atom in local.split(separator: ".", omittingEmptySubsequences: false) {
            guard !atom.isEmpty else {
                throw AddressError(reason: "'\(text)' has an empty part between dots in its local part")
            }
            // The usual atom is ASCII atext: checked as bytes against a table, without scalar decoding.
            if atom.utf8.allSatisfy({ $0 < 0x80 && asciiAtext[Int($0)] }) { continue }
            for s in atom.unicodeScalars where !isAtext(s) {
                throw AddressError(reason: "'\(text.debugEscaped)' has '\(s.debugEscaped)' in its local part")
            }
        }
    }

    /// RFC 5322 §3.2.3 atext, extended by RFC 6532 §3.2 with UTF8-non-ascii. Of the non-ASCII characters we refuse
    /// those that cannot be told apart from a space or are invisible (white space, controls, format characters,
    /// unassigned code points): they make an address that no person can type back.
    static func isAtext(_ s: Unicode.Scalar) -> Bool {
        if s.value >= 0x80 { return isVisibleNonASCII(s) }
        return ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
            || atextSpecials.contains(s)
    }

    static func isVisibleNonASCII(_ s: Unicode.Scalar) -> Bool {
        if s.properties.isWhitespace { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .surrogate, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    private static func validateDomain(_ domain: String, in text: String) throws(AddressError) {
        guard !domain.isEmpty else { throw AddressError(reason: "'\(text)' has an empty domain") }
        if domain.hasPrefix("[") {
            guard domain.hasSuffix("]"), isValidDomainLiteral(domain.utf8.dropFirst().dropLast()) else {
                throw AddressError(reason: "'\(text)' has an invalid domain literal")
            }
            return
        }
        // RFC 1035 §2.3.4 / RFC 5321 §4.5.3.1.2 (for a U-label the limit is that of its A-label, which is
        // longer; checking the UTF-8 length is the cheap approximation).
        guard domain.utf8.count <= 253 else { throw AddressError(reason: "'\(text)' has a domain over 253 octets") }
        if domain.utf8.allSatisfy({ $0 == 0x2E || isASCIILetterDigitOrHyphen($0) }) {
            return try validateASCIIDomain(domain, in: text)
        }
        for label in domain.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { throw AddressError(reason: "'\(text)' has an empty label in its domain") }
            guard label.utf8.count <= 63 else {
                throw AddressError(reason: "'\(text)' has a domain label over 63 octets")
            }
            guard label.first != "-", label.last != "-" else {
                throw AddressError(reason: "'\(text)' has a domain label that starts or ends with '-'")
            }
            // An ASCII label of an internationalised domain: no Unicode property lookups.
            if label.utf8.allSatisfy({ isASCIILetterDigitOrHyphen($0) }) { continue }
            // IDNA 2008 (RFC 5891 §4.2.3.2): a label may not start with a combining mark.
            if let first = label.unicodeScalars.first, isMark(first) {
                throw AddressError(reason: "'\(text)' has a domain label that starts with a combining mark")
            }
            for s in label.unicodeScalars {
                let ok =
                    ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || s == "-"
                    || (s.value >= 0x80 && (isLetterOrDigit(s) || isMark(s)))
                guard ok else {
                    throw AddressError(reason: "'\(text.debugEscaped)' has '\(s.debugEscaped)' in its domain")
                }
            }
        }
    }

    /// The rules of `validateDomain` for a domain of ASCII letters, digits, hyphens and dots (the usual
    /// one), on its bytes: splitting it into Substrings and comparing Characters cost 8,000 instructions.
    private static func validateASCIIDomain(_ domain: String, in text: String) throws(AddressError) {
        var length = 0
        var first: UInt8 = 0
        var last: UInt8 = 0
        func endLabel() throws(AddressError) {
            guard length > 0 else { throw AddressError(reason: "'\(text)' has an empty label in its domain") }
            guard length <= 63 else { throw AddressError(reason: "'\(text)' has a domain label over 63 octets") }
            guard first != 0x2D, last != 0x2D else {
                throw AddressError(reason: "'\(text)' has a domain label that starts or ends with '-'")
            }
            length = 0
        }
        for b in domain.utf8 {
            if b == 0x2E {
                try endLabel()
                continue
            }
            if length == 0 { first = b }
            last = b
            length += 1
        }
        try endLabel()
    }

    @inline(__always) private static func isASCIILetterDigitOrHyphen(_ b: UInt8) -> Bool {
        (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A || (b >= 0x30 && b <= 0x39) || b == 0x2D
    }

    private static func isMark(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    private static func isLetterOrDigit(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber,
            .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// RFC 5321 §4.1.3: `[` IPv4-address-literal `]` or `[IPv6:` IPv6-addr `]`. The general form
    /// (Standardized-tag ":" …) has no registered tag besides IPv6, so it is refused.
    static func isValidDomainLiteral(_ inner: Substring.UTF8View) -> Bool {
        let bytes = Array(inner)
        let prefix = Array("IPv6:".utf8)
        if bytes.count > prefix.count,
            bytes[..<prefix.count].elementsEqual(prefix, by: { asciiLower($0) == asciiLower($1) })
        {
            return isIPv6(bytes[prefix.count...])
        }
        return isIPv4(bytes[...])
    }

    private static func asciiLower(_ b: UInt8) -> UInt8 { (0x41...0x5A).contains(b) ? b | 0x20 : b }

    private static func isIPv4(_ bytes: ArraySlice<UInt8>) -> Bool {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
            let value = part.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard value <= 255 else { return false }
        }
        return true
    }

    /// RFC 5321 §4.1.3 IPv6-addr: eight groups of 1–4 hex digits, one "::" standing for one or more zero groups,
    /// and optionally an IPv4 address in place of the last two groups.
    private static func isIPv6(_ bytes: ArraySlice<UInt8>) -> Bool {
        let colon = UInt8(ascii: ":")
        var text = bytes
        var maxGroups = 8
        // An IPv4 tail (IPv6v4-full / IPv6v4-comp) takes the place of the last two groups.
        if let lastColon = text.lastIndex(of: colon), text[(lastColon + 1)...].contains(UInt8(ascii: ".")) {
            guard isIPv4(text[(lastColon + 1)...]) else { return false }
            maxGroups = 6
            text = text[...lastColon]
            // Keep a trailing "::" (it compresses groups); drop a single trailing ":" (it only separated the tail).
            if !(text.count >= 2 && text[text.index(before: lastColon)] == colon) { text = text.dropLast() }
        }
        let halves: [ArraySlice<UInt8>]
        if let range = text.firstRange(of: [colon, colon]) {
            if text[range.upperBound...].firstRange(of: [colon, colon]) != nil { return false }
            halves = [text[..<range.lowerBound], text[range.upperBound...]]
        } else {
            halves = [text]
        }
        var groups = 0
        for half in halves where !half.isEmpty {
            for group in half.split(separator: colon, omittingEmptySubsequences: false) {
                guard (1...4).contains(group.count), group.allSatisfy(isHexDigit) else { return false }
                groups += 1
            }
        }
        // "::" stands for at least one group of zeros.
        return halves.count == 2 ? groups < maxGroups : groups == maxGroups
    }

    private static func isHexDigit(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
    }
}
