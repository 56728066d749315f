/// MIME parameter values beyond ASCII tokens (RFC 2231): `filename*=utf-8''relat%C3%B3rio.pdf`, split into
/// numbered sections (`filename*0*=…; filename*1*=…`) when one line would be too long.
public enum RFC2231 {
    /// RFC 2231 §7 attribute-char: any CHAR except SPACE, CTLs, "*", "'", "%" and the RFC 2045 tspecials.
    @inline(__always) static func isAttributeChar(_ b: UInt8) -> Bool {
        guard ASCII.isVisible(b) else { return false }
        switch b {
        case 0x2A, 0x27, 0x25: return false  // * ' %
        default: return !MediaType.isTSpecial(b)
        }
    }

    /// The extended value `charset'language'percent-encoded` of §4, e.g.
    /// `encodeValue("This is ***fun***", charset: "us-ascii", language: "en-us")` is
    /// `us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A`.
    public static func encodeValue(_ value: String, charset: String = "utf-8", language: String = "") -> String {
        var out = Array("\(charset)'\(language)'".utf8)
        percentEncode(value.utf8, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func percentEncode<C: Collection>(_ bytes: C, into out: inout [UInt8]) where C.Element == UInt8 {
        for b in bytes {
            if isAttributeChar(b) { out.append(b) } else { out.appendEscaped(b, marker: ASCII.percent) }
        }
    }

    /// Decodes an extended value (`charset'language'text`, §4) whose charset is UTF-8 or US-ASCII (or any charset
    /// when the bytes are ASCII); nil when it is malformed or in another charset.
    public static func decodeValue(_ extended: String) -> (charset: String, language: String, value: String)? {
        let parts = extended.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        guard let bytes = percentDecode(parts[2].utf8) else { return nil }
        let charset = ASCII.lowercased(String(parts[0]))
        guard let utf8 = EncodedWords.decodeCharset(charset.isEmpty ? "us-ascii" : charset, bytes) else { return nil }
        return (charset, String(parts[1]), String(decoding: utf8, as: UTF8.self))
    }

    static func percentDecode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
        let bytes = Array(text)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == ASCII.percent {
                guard i + 2 < bytes.count, let hi = ASCII.hexValue(bytes[i + 1]), let lo = ASCII.hexValue(bytes[i + 2])
                else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// The parameter `name` with `value` as one or more `attribute=value` strings, each to be written after
    /// "; ": a plain quoted string when the value is printable ASCII that a reader cannot mistake for something
    /// else and it fits in `maxLength` characters; otherwise the UTF-8 extended form, split into numbered
    /// sections (§3) of at most about `maxLength` characters that never split a character or a `%XX`.
    public static func parameter(_ name: String, _ value: String, maxLength: Int = 72) -> [String] {
        let utf8 = Array(value.utf8)
        let nameLength = name.utf8.count
        if isPlainQuotable(utf8), nameLength + utf8.count + 3 <= maxLength {
            return ["\(name)=\"\(value)\""]
        }
        var encoded = Array("utf-8''".utf8)
        percentEncode(utf8, into: &encoded)
        if nameLength + 2 + encoded.count <= maxLength {
            return ["\(name)*=" + String(decoding: encoded, as: UTF8.self)]
        }
        // Sections: "name*N*=" leaves this much for the text (two-digit section numbers assumed).
        let budget = max(maxLength - nameLength - 5, 16)
        var sections: [[UInt8]] = []
        var current = Array("utf-8''".utf8)
        var i = 0
        while i < utf8.count {
            let end = min(i + utf8SequenceLength(utf8[i]), utf8.count)
            var piece: [UInt8] = []
            percentEncode(utf8[i..<end], into: &piece)
            if current.count + piece.count > budget && !current.isEmpty {
                sections.append(current)
                current = []
            }
            current.append(contentsOf: piece)
            i = end
        }
        sections.append(current)
        return sections.enumerated().map { n, section in
            "\(name)*\(n)*=" + String(decoding: section, as: UTF8.self)
        }
    }

    /// Printable ASCII without the characters that need a quoted-pair ('"', '\') — not every reader undoes those —
    /// and without "=?", which some readers take for an RFC 2047 encoded word even inside quotes.
    static func isPlainQuotable(_ utf8: [UInt8]) -> Bool {
        guard !utf8.isEmpty else { return false }
        var previous: UInt8 = 0
        for b in utf8 {
            guard b >= 0x20, b < 0x7F, b != ASCII.quote, b != ASCII.backslash else { return false }
            if previous == ASCII.equals && b == ASCII.question { return false }
            previous = b
        }
        return true
    }
}
