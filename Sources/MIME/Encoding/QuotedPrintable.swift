/// Quoted-printable content transfer encoding of text (RFC 2045 §6.7).
public enum QuotedPrintable {
    /// RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters, the "=" of a soft line break included.
    public static let maximumLineLength = 76

    /// Encodes text: each CR, LF or CRLF of the input is a line break and comes out as CRLF (rule 4); printable
    /// ASCII other than "=" stands for itself (rule 2); "=", controls and bytes >= 0x80 become `=XX` (rule 1); a
    /// space or tab before a line break or at the end is encoded too (rule 3), so no line ends in white space;
    /// longer lines are broken with soft line breaks (rule 5) that never split an `=XX`.
    public static func encode<C: Collection>(text: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + text.count / 8 + 16)
        encode(text: text, into: &out)
        return out
    }

    /// Appends the encoding of `text` to `out` (see `encode(text:)`).
    public static func encode<C: Collection>(text: C, into out: inout [UInt8]) where C.Element == UInt8 {
        var column = 0
        var i = text.startIndex
        let end = text.endIndex
        while i != end {
            let b = text[i]
            let next = text.index(after: i)
            if b == ASCII.cr || b == ASCII.lf {
                out.appendCRLF()
                column = 0
                // CRLF is one line break, not two.
                i = (b == ASCII.cr && next != end && text[next] == ASCII.lf) ? text.index(after: next) : next
                continue
            }
            let lastOnLine = next == end || text[next] == ASCII.cr || text[next] == ASCII.lf
            let literal = (ASCII.isVisible(b) && b != ASCII.equals) || (ASCII.isWSP(b) && !lastOnLine)
            let width = literal ? 1 : 3
            // Room for this character and, unless it ends the line, for the "=" of a later soft break.
            if column + width > (lastOnLine ? maximumLineLength : maximumLineLength - 1) {
                out.append(ASCII.equals)
                out.appendCRLF()
                column = 0
            }
            if literal {
                out.append(b)
            } else {
                out.appendEscaped(b, marker: ASCII.equals)
            }
            column += width
            i = next
        }
    }

    /// Decodes quoted-printable (RFC 2045 §6.7): `=XX` is a byte, "=" at the end of a line a soft break, and white
    /// space at the end of a line is dropped (rule 3). Hard line breaks come out as CRLF. A malformed "=" is kept
    /// as it is, as §6.7 note (2) suggests.
    public static func decode<C: Collection>(_ encoded: C) -> [UInt8] where C.Element == UInt8 {
        let bytes = Array(encoded)
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
