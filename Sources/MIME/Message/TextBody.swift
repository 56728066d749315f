import MailCore

/// A text/plain or text/html part, charset UTF-8.
///
/// The transfer encoding is 7bit when the text would pass any MTA untouched: printable ASCII and tabs only, lines
/// of at most 78 octets (the RFC 5322 §2.1.1 "SHOULD"), no white space at a line end (some MTAs strip it), and no
/// "=_" (the prefix of maild's boundaries, see `Multipart`). Anything else is quoted-printable (RFC 2045 §6.7),
/// whose lines are at most 76 characters. Either way every CR, LF or CRLF of the text becomes CRLF, and lines
/// that are "." or start with "." are left alone: dot-stuffing belongs to the SMTP conversation (RFC 5321 §4.5.2).
enum TextBody {
    static let maximumSevenBitLine = 78

    /// Writes the part's header fields, the blank line and the encoded text (without a CRLF after its last line);
    /// returns whether the text is quoted-printable.
    @discardableResult
    static func write(_ text: String, subtype: String, into w: inout HeaderWriter) -> Bool {
        var text = text
        return text.withUTF8 { utf8 in write(utf8, subtype: subtype, into: &w) }
    }

    private static func write(_ utf8: UnsafeBufferPointer<UInt8>, subtype: String, into w: inout HeaderWriter) -> Bool {
        let sevenBit = isSevenBitSafe(utf8)
        w.bytes.append("Content-Type: text/")
        w.bytes.append(subtype)
        w.bytes.append("; charset=utf-8\r\nContent-Transfer-Encoding: ")
        w.bytes.append(sevenBit ? "7bit\r\n\r\n" : "quoted-printable\r\n\r\n")
        if sevenBit {
            appendNormalisingLineEnds(utf8, to: &w.bytes)
        } else {
            QuotedPrintable.encode(text: utf8, into: &w.bytes)
        }
        return !sevenBit
    }

    static func isSevenBitSafe(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        // Eight bytes at a time while they are all printable ASCII other than "=" (almost all of a text), the
        // table for the word that holds anything else: this scan reads every byte of the body and was the
        // largest single cost of composing a short message.
        sevenBitClasses.withUnsafeBufferPointer { table in
            let n = utf8.count
            guard let base = utf8.baseAddress else { return true }
            var lineStart = 0
            var i = 0
            while i < n {
                if i + 8 <= n && Word.isPlain(ByteWord.load(base, i)) {
                    i += 8
                    continue
                }
                let end = min(i + 8, n)
                while i < end {
                    let byteClass = table[Int(base[i])]
                    if byteClass != ByteClass.plain {
                        switch byteClass {
                        case ByteClass.lineBreak:
                            if i - lineStart > maximumSevenBitLine || (i > 0 && ASCII.isWSP(base[i - 1])) { return false }
                            lineStart = i + 1
                        case ByteClass.equals:
                            if i + 1 < n && base[i + 1] == ASCII.underscore { return false }
                        default:
                            return false
                        }
                    }
                    i += 1
                }
            }
            return n - lineStart <= maximumSevenBitLine && !(n > 0 && ASCII.isWSP(base[n - 1]))
        }
    }

    /// Eight-byte tests for the two scans (see `ByteWord`).
    private enum Word {
        /// Printable ASCII (0x20-0x7E) but "=": what `sevenBitClasses` calls plain, less the tab.
        @inline(__always) static func isPlain(_ x: UInt64) -> Bool {
            !ByteWord.hasHigh(x) && !ByteWord.hasLess(x, than: 0x20) && !ByteWord.has(x, 0x7F) && !ByteWord.has(x, 0x3D)
        }

        @inline(__always) static func hasLineBreak(_ x: UInt64) -> Bool {
            ByteWord.has(x, ASCII.lf) || ByteWord.has(x, ASCII.cr)
        }
    }

    private enum ByteClass {
        static let plain: UInt8 = 0
        static let lineBreak: UInt8 = 1
        static let equals: UInt8 = 2
        static let other: UInt8 = 3
    }

    /// Printable ASCII, space and tab are plain; CR and LF break lines; "=" needs a look at the next byte (for
    /// "=_"); the rest (controls, DEL, 8-bit) rule 7bit out.
    private static let sevenBitClasses: [UInt8] = (0..<256).map { b in
        switch b {
        case 0x0D, 0x0A: return ByteClass.lineBreak
        case 0x3D: return ByteClass.equals
        case 0x09, 0x20..<0x7F: return ByteClass.plain
        default: return ByteClass.other
        }
    }

    /// Copies `utf8`, turning each CR, LF and CRLF into CRLF.
    static func appendNormalisingLineEnds(_ utf8: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        guard let base = utf8.baseAddress else { return }
        let n = utf8.count
        out.reserveCapacity(out.count + n + n / 32)
        var i = 0
        while i < n {
            // Copy the run up to the next line break in one go, looking for it eight bytes at a time.
            var j = i
            while j + 8 <= n && !Word.hasLineBreak(ByteWord.load(base, j)) { j += 8 }
            while j < n, base[j] != ASCII.cr, base[j] != ASCII.lf { j += 1 }
            out.append(contentsOf: UnsafeBufferPointer(start: base + i, count: j - i))
            if j == n { break }
            out.appendCRLF()
            i = (base[j] == ASCII.cr && j + 1 < n && base[j + 1] == ASCII.lf) ? j + 2 : j + 1
        }
    }
}
