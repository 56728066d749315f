/// The header section of a ready-made message, split into fields (RFC 5322 §2.2, §3.5).
struct RawHeaderSection {
    /// One header field: its name as written and the byte range of all its lines, CRLFs included.
    struct Field {
        var name: String
        var lowercasedName: String
        var range: Range<Int>
    }

    var fields: [Field]
    /// Where the body starts (after the blank line), or the end when the message has headers only.
    var bodyStart: Int
    /// Whether a blank line ends the header section.
    var hasSeparator: Bool

    /// Splits `bytes` (CRLF line ends, the last line terminated) into fields, starting at `start`. Throws when a
    /// line is neither a field nor a continuation.
    static func parse(_ bytes: [UInt8], from start: Int) throws(RawMessageError) -> RawHeaderSection {
        var fields: [Field] = []
        var i = start
        var lineNumber = 0
        while i < bytes.count {
            lineNumber += 1
            var end = i
            while end < bytes.count, bytes[end] != ASCII.cr { end += 1 }
            let next = min(end + 2, bytes.count)
            if end == i {
                return RawHeaderSection(fields: fields, bodyStart: next, hasSeparator: true)
            }
            if ASCII.isWSP(bytes[i]) {
                // RFC 5322 §2.2.3: a continuation line belongs to the field before it.
                guard !fields.isEmpty else { throw .continuationFirst(line: lineNumber) }
                fields[fields.count - 1].range = fields[fields.count - 1].range.lowerBound..<next
            } else {
                guard let colon = bytes[i..<end].firstIndex(of: 0x3A) else { throw .noColon(line: lineNumber) }
                // RFC 5322 §4.5 (obs-optional) allows white space between the name and the colon.
                var nameEnd = colon
                while nameEnd > i, ASCII.isWSP(bytes[nameEnd - 1]) { nameEnd -= 1 }
                let name = bytes[i..<nameEnd]
                guard !name.isEmpty, name.allSatisfy({ ASCII.isVisible($0) }) else {
                    throw .badName(line: lineNumber)
                }
                let text = String(decoding: name, as: UTF8.self)
                fields.append(Field(name: text, lowercasedName: ASCII.lowercased(text), range: i..<next))
            }
            i = next
        }
        return RawHeaderSection(fields: fields, bodyStart: bytes.count, hasSeparator: false)
    }

    /// The first field called `lowercasedName`.
    func first(_ lowercasedName: String) -> Field? { fields.first { $0.lowercasedName == lowercasedName } }

    /// The unfolded value of `field`: after the colon, line breaks removed, leading white space dropped.
    static func value(of field: Field, in bytes: [UInt8]) -> String {
        let slice = bytes[field.range]
        guard var i = slice.firstIndex(of: 0x3A) else { return "" }
        i += 1
        var out: [UInt8] = []
        out.reserveCapacity(slice.endIndex - i)
        for b in slice[i...] where !ASCII.isLineBreak(b) { out.append(b) }
        var start = 0
        while start < out.count, ASCII.isWSP(out[start]) { start += 1 }
        return String(decoding: out[start...], as: UTF8.self)
    }
}

/// Why a ready-made message was refused.
enum RawMessageError: Error {
    case noColon(line: Int)
    case badName(line: Int)
    case continuationFirst(line: Int)

    var message: String {
        switch self {
        case .noColon(let line): return "header line \(line) has no ':' (a blank line must end the header section)"
        case .badName(let line): return "header line \(line) has an invalid field name (RFC 5322 §3.6.8)"
        case .continuationFirst(let line): return "header line \(line) starts with white space but follows no field"
        }
    }
}

