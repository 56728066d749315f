/// Small helpers for building messages as bytes: the composer appends to one `[UInt8]` and never goes
/// through `String` concatenation on the hot path.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let equals: UInt8 = 0x3D
    static let underscore: UInt8 = 0x5F
    static let question: UInt8 = 0x3F
    static let percent: UInt8 = 0x25
    static let crlf: [UInt8] = [0x0D, 0x0A]

    @inline(__always) static func isWSP(_ b: UInt8) -> Bool { b == space || b == tab }
    @inline(__always) static func isLineBreak(_ b: UInt8) -> Bool { b == cr || b == lf }
    @inline(__always) static func isAlphanumeric(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
    }
    /// VCHAR of RFC 5234: the printable ASCII characters other than space.
    @inline(__always) static func isVisible(_ b: UInt8) -> Bool { b > 0x20 && b < 0x7F }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// ASCII-only lower-casing, for comparing header and parameter names (which are ASCII by definition).
    static func lowercased(_ text: String) -> String {
        guard text.utf8.contains(where: { (0x41...0x5A).contains($0) }) else { return text }
        return String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// Appends the UTF-8 bytes of `text`.
    @inline(__always) mutating func append(_ text: String) { append(contentsOf: text.utf8) }

    /// Appends the UTF-8 bytes of `text` that `keep` accepts; all of them in one copy when it accepts every
    /// one (the usual case: a lazy filter cost about 40 instructions a byte).
    mutating func append(_ text: String, keeping keep: (UInt8) -> Bool) {
        var text = text
        text.withUTF8 { utf8 in
            if utf8.allSatisfy(keep) {
                append(contentsOf: utf8)
            } else {
                for byte in utf8 where keep(byte) { append(byte) }
            }
        }
    }

    @inline(__always) mutating func appendCRLF() {
        append(ASCII.cr)
        append(ASCII.lf)
    }

    /// Appends `=XX` (RFC 2045 §6.7 rule 1) or `%XX` (RFC 2231 §4), in the upper-case hex both require.
    @inline(__always) mutating func appendEscaped(_ byte: UInt8, marker: UInt8) {
        // Arithmetic rather than a table lookup: this runs for most bytes of non-ASCII text.
        @inline(__always) func hex(_ d: UInt8) -> UInt8 { d < 10 ? 0x30 + d : 0x37 + d }
        append(marker)
        append(hex(byte >> 4))
        append(hex(byte & 0x0F))
    }

    /// True when the last two bytes are CRLF.
    var endsWithCRLF: Bool { count >= 2 && self[count - 2] == ASCII.cr && self[count - 1] == ASCII.lf }
}

extension Collection where Element == UInt8 {
    /// True when every byte is below 0x80.
    var isASCII: Bool { allSatisfy { $0 < 0x80 } }
}

/// The octet length of the UTF-8 sequence that starts with `lead` (1 for a stray continuation byte, so a scan
/// always advances).
@inline(__always) func utf8SequenceLength(_ lead: UInt8) -> Int {
    if lead < 0xC0 { return 1 }
    if lead < 0xE0 { return 2 }
    if lead < 0xF0 { return 3 }
    return 4
}
