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
        // On UTF-8 bytes: this runs for every reply, and Character-wise splitting cost more than the
        // rest of the reply's handling.
        let bytes = text.utf8
        guard let first = bytes.first, Int(first) - Int(UInt8(ascii: "0")) == code / 100,
            first == UInt8(ascii: "2") || first == UInt8(ascii: "4") || first == UInt8(ascii: "5")
        else { return nil }
        var index = bytes.index(after: bytes.startIndex)
        for _ in 0..<2 {
            guard index != bytes.endIndex, bytes[index] == UInt8(ascii: ".") else { return nil }
            index = bytes.index(after: index)
            var digits = 0
            while index != bytes.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                digits += 1
                index = bytes.index(after: index)
            }
            guard (1...3).contains(digits) else { return nil }
        }
        guard index == bytes.endIndex || bytes[index] == UInt8(ascii: " ") else { return nil }
        let token = String(text[..<index])
        var restStart = index
        while restStart != bytes.endIndex, bytes[restStart] == UInt8(ascii: " ") { restStart = bytes.index(after: restStart) }
        return (token, String(text[restStart...]))
    }
}
