import MailCore

extension SMTPReply {
    /// The reply with its RFC 3463 enhanced status code taken out of the text into `enhancedCode`.
    /// Applied only when the relay offered ENHANCEDSTATUSCODES (RFC 2034 §3), and only when the code's
    /// class matches the reply's first digit (RFC 2034 §4); continuation lines that repeat the same
    /// code lose it too, so `description` shows it once.
    func splittingEnhancedCode() -> SMTPReply {
        guard enhancedCode == nil, let first = lines.first,
            let (enhanced, rest) = Self.enhancedPrefix(first, code: code)
        else { return self }
        var split = self
        split.enhancedCode = enhanced
        split.lines[0] = rest
        for i in split.lines.indices.dropFirst() {
            if let (other, text) = Self.enhancedPrefix(split.lines[i], code: code), other == enhanced {
                split.lines[i] = text
            }
        }
        return split
    }

    /// `class "." subject "." detail` (RFC 3463 §2: class 2, 4 or 5; subject and detail 1–3 digits),
    /// followed by a space or the end of the line.
    static func enhancedPrefix(_ text: String, code: Int) -> (code: String, rest: String)? {
        let token = text.prefix { $0 != " " }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == String(code / 100), ["2", "4", "5"].contains(parts[0]),
            parts[1...].allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } })
        else { return nil }
        let rest = text.dropFirst(token.count).drop { $0 == " " }
        return (String(token), String(rest))
    }
}
