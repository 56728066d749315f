/// Quoted-printable content transfer encoding of text (RFC 2045 §6.7).
public enum QuotedPrintable {
    /// RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters, the "=" of a soft line break included.
    public static let maximumLineLength = 76

    /// Encodes text: each CR, LF or CRLF of the input is a line break and comes out as CRLF (rule 4); printable
    /// ASCII other than "=" stands for itself (rule 2); "=", controls and bytes >= 0x80 become `=XX` (rule 1); a
    /// space or tab before a line break or at the end is encoded too (rule 3), so no line ends in white space;
    /// longer lines are broken with soft line breaks (rule 5) that never split an `=XX`.
    ///
    /// Public entry points take `[UInt8]` rather than being generic: an unspecialised generic called from another
    /// module runs several times slower.
    public static func encode(text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + text.count / 8 + 16)
        text.withUnsafeBufferPointer { encode(text: $0, into: &out) }
        return out
    }

    /// Appends the encoding of `text` to `out` (see `encode(text:)`).
    static func encode(text: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        // Written through a raw buffer of the worst-case size (every byte escaped, a soft break every 25 input
        // bytes): appending byte by byte to an Array checks uniqueness and capacity each time, which was most of
        // the cost.
        let n = text.count
        let worst = 3 * n + 3 * (n / 25 + 1)
        let encoded = [UInt8](unsafeUninitializedCapacity: worst) { buffer, written in
            var o = 0
            @inline(__always) func put(_ b: UInt8) {
                buffer[o] = b
                o += 1
            }
            @inline(__always) func hex(_ d: UInt8) -> UInt8 { d < 10 ? 0x30 + d : 0x37 + d }
            var column = 0
            var i = 0
            while i < n {
                let b = text[i]
                if b == ASCII.cr || b == ASCII.lf {
                    put(ASCII.cr)
                    put(ASCII.lf)
                    column = 0
                    // CRLF is one line break, not two.
                    i += (b == ASCII.cr && i + 1 < n && text[i + 1] == ASCII.lf) ? 2 : 1
                    continue
                }
                let lastOnLine = i + 1 == n || text[i + 1] == ASCII.cr || text[i + 1] == ASCII.lf
                let literal = (ASCII.isVisible(b) && b != ASCII.equals) || (ASCII.isWSP(b) && !lastOnLine)
                let width = literal ? 1 : 3
                // Room for this character and, unless it ends the line, for the "=" of a later soft break.
                if column + width > (lastOnLine ? maximumLineLength : maximumLineLength - 1) {
                    put(ASCII.equals)
                    put(ASCII.cr)
                    put(ASCII.lf)
                    column = 0
                }
                if literal {
                    put(b)
                } else {
                    put(ASCII.equals)
                    put(hex(b >> 4))
                    put(hex(b & 0x0F))
                }
                column += width
                i += 1
            }
            written = o
        }
        out.append(contentsOf: encoded)
    }

    /// Decodes quoted-printable (RFC 2045 §6.7): `=XX` is a byte, "=" at the end of a line a soft break, and white
    /// space at the end of a line is dropped (rule 3). Hard line breaks come out as CRLF. A malformed "=" is kept
    /// as it is, as §6.7 note (2) suggests.
    public static func decode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var lineStart = 0
        while lineStart <= bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, !ASCII.isLineBreak(bytes[lineEnd]) { lineEnd += 1 }
            var next = lineEnd
            let hasBreak = lineEnd < bytes.count
            if hasBreak {
                let crlf = bytes[lineEnd] == ASCII.cr && lineEnd + 1 < bytes.count && bytes[lineEnd + 1] == ASCII.lf
                next += crlf ? 2 : 1
            }
            var contentEnd = lineEnd
            while contentEnd > lineStart, ASCII.isWSP(bytes[contentEnd - 1]) { contentEnd -= 1 }
            var soft = false
            var i = lineStart
            while i < contentEnd {
                let b = bytes[i]
                if b == ASCII.equals {
                    if i + 1 == contentEnd {
                        soft = true
                        break
                    }
                    if i + 2 < contentEnd, let hi = ASCII.hexValue(bytes[i + 1]),
                        let lo = ASCII.hexValue(bytes[i + 2])
                    {
                        out.append(hi << 4 | lo)
                        i += 3
                        continue
                    }
                }
                out.append(b)
                i += 1
            }
            if hasBreak && !soft { out.appendCRLF() }
            if !hasBreak { break }
            lineStart = next
        }
        return out
    }
}
