import MailCore

extension EncodedWords {
    /// Decodes the encoded words in a header value (RFC 2047 §6) and unfolds it.
    ///
    /// White space between two adjacent encoded words is dropped (§6.2), and adjacent words in the same charset
    /// are joined before decoding, so a character that a careless encoder split across words still comes out
    /// whole. UTF-8, US-ASCII, ISO-8859-1 and windows-1252 are understood, and any charset when the bytes are
    /// ASCII; a word in another charset, or malformed, is left as it is. Encoded words that touch other text are
    /// decoded too, as most readers do, since this serves listings rather than strict parsing.
    public static func decode(_ text: String) -> String {
        let input = Array(text.utf8)
        guard input.count >= 8, input.contains(ASCII.question) else { return unfold(text) }
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var pendingWhiteSpace: [UInt8] = []
        var pending: (charset: String, bytes: [UInt8], raw: [UInt8])?
        var afterEncodedWord = false

        func flushPending() {
            guard let p = pending else { return }
            out.append(contentsOf: decodeCharset(p.charset, p.bytes) ?? p.raw)
            pending = nil
        }
        func flushWhiteSpace() {
            out.append(contentsOf: pendingWhiteSpace.lazy.filter { !ASCII.isLineBreak($0) })
            pendingWhiteSpace.removeAll(keepingCapacity: true)
        }

        var i = 0
        while i < input.count {
            let b = input[i]
            if b == ASCII.equals, let word = parseWord(input, at: i) {
                if afterEncodedWord {
                    pendingWhiteSpace.removeAll(keepingCapacity: true)
                } else {
                    flushWhiteSpace()
                }
                let raw = Array(input[i..<word.end])
                if let p = pending, p.charset == word.charset {
                    pending = (p.charset, p.bytes + word.bytes, p.raw + [ASCII.space] + raw)
                } else {
                    flushPending()
                    pending = (word.charset, word.bytes, raw)
                }
                afterEncodedWord = true
                i = word.end
            } else if ASCII.isWSP(b) || ASCII.isLineBreak(b) {
                pendingWhiteSpace.append(b)
                i += 1
            } else {
                flushPending()
                flushWhiteSpace()
                out.append(b)
                afterEncodedWord = false
                i += 1
            }
        }
        flushPending()
        flushWhiteSpace()
        return String(decoding: out, as: UTF8.self)
    }

    /// Removes the CRLFs of folding (RFC 5322 §2.2.3).
    static func unfold(_ text: String) -> String {
        guard text.utf8.contains(where: ASCII.isLineBreak) else { return text }
        return String(decoding: text.utf8.filter { !ASCII.isLineBreak($0) }, as: UTF8.self)
    }

    /// Parses `=?charset?encoding?text?=` at `start` (RFC 2047 §2), returning the lower-cased charset (without an
    /// RFC 2231 §5 language suffix), the decoded bytes and where the word ends.
    static func parseWord(_ input: [UInt8], at start: Int) -> (charset: String, bytes: [UInt8], end: Int)? {
        guard start + 1 < input.count, input[start] == ASCII.equals, input[start + 1] == ASCII.question else {
            return nil
        }
        var i = start + 2
        let charsetStart = i
        while i < input.count, isTokenByte(input[i]) { i += 1 }
        guard i > charsetStart, i < input.count, input[i] == ASCII.question else { return nil }
        var charsetBytes = input[charsetStart..<i]
        if let star = charsetBytes.firstIndex(of: 0x2A) { charsetBytes = charsetBytes[..<star] }
        i += 1
        guard i + 1 < input.count, input[i + 1] == ASCII.question else { return nil }
        let encoding = input[i] | 0x20
        guard encoding == 0x62 || encoding == 0x71 else { return nil }
        i += 2
        let textStart = i
        while i < input.count, input[i] != ASCII.question, isVisibleExceptQuestion(input[i]) { i += 1 }
        guard i + 1 < input.count, input[i] == ASCII.question, input[i + 1] == ASCII.equals else { return nil }
        let encoded = input[textStart..<i]
        let bytes: [UInt8]?
        if encoding == 0x62 {
            bytes = Base64.decode(bytes: encoded)
        } else {
            bytes = decodeQ(encoded)
        }
        guard let bytes else { return nil }
        let charset = ASCII.lowercased(String(decoding: charsetBytes, as: UTF8.self))
        return (charset, bytes, i + 2)
    }

    /// RFC 2047 §2 token: any CHAR except SPACE, CTLs and especials ("." is let through: some charset names
    /// in the wild have one).
    private static func isTokenByte(_ b: UInt8) -> Bool {
        ASCII.isVisible(b) && !especials.contains(b)
    }

    private static let especials = Set("()<>@,;:\"/[]?=".utf8)

    private static func isVisibleExceptQuestion(_ b: UInt8) -> Bool { ASCII.isVisible(b) && b != ASCII.question }

    /// RFC 2047 §4.2: "_" is a space, "=XX" a byte, anything else itself.
    static func decodeQ(_ encoded: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count)
        var i = encoded.startIndex
        while i < encoded.endIndex {
            let b = encoded[i]
            if b == ASCII.underscore {
                out.append(ASCII.space)
                i += 1
            } else if b == ASCII.equals {
                guard i + 2 < encoded.endIndex, let hi = ASCII.hexValue(encoded[i + 1]),
                    let lo = ASCII.hexValue(encoded[i + 2])
                else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        return out
    }

    /// The UTF-8 form of `bytes` in `charset`, or nil when the charset is not understood.
    static func decodeCharset(_ charset: String, _ bytes: [UInt8]) -> [UInt8]? {
        switch charset {
        case "utf-8", "utf8":
            return Array(String(decoding: bytes, as: UTF8.self).utf8)
        case "iso-8859-1", "latin1", "iso_8859-1", "windows-1252", "cp1252":
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count * 2)
            let windows = charset == "windows-1252" || charset == "cp1252"
            for b in bytes {
                var scalar = Unicode.Scalar(b)
                if windows, (0x80..<0xA0).contains(b), let mapped = Unicode.Scalar(windows1252High[Int(b - 0x80)]) {
                    scalar = mapped
                }
                out.append(contentsOf: String(Character(scalar)).utf8)
            }
            return out
        default:
            return bytes.isASCII ? bytes : nil
        }
    }

    /// windows-1252 0x80–0x9F (the WHATWG index); undefined positions map to the C1 control of the same value.
    private static let windows1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
        0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x9D, 0x017E, 0x0178,
    ]
}
