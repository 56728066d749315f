import MailCore

/// Splits what a relay sends into complete replies (RFC 5321 §4.2): `250-first`, `250-more`, `250 last`.
/// Pure: bytes in, replies out. Hostile input ends in a `ReplyParseError`, never in unbounded memory.
struct SMTPReplyParser {
    /// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, CRLF included.
    static let maximumLineLength = 512
    /// No relay needs more lines than this for one reply (an EHLO has a dozen or two).
    static let maximumLines = 256

    private var buffer: [UInt8] = []
    private var position = 0
    private var code: Int?
    private var lines: [String] = []
    private var rawLines: [String] = []
    /// Bytes of the lines taken for the reply not yet complete (what `discardBuffered` drops with them).
    private var partialBytes = 0
    /// Whether replies carry their lines as received (`ParsedReply.rawLines`): only a transcript or the
    /// trace log shows them, and building them cost as much as the parse.
    var keepsRawLines = true

    /// Bytes that came from the relay.
    mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Whether part of a reply has been received: a connection closed now was closed mid-reply.
    var hasPartialReply: Bool { position < buffer.count || !lines.isEmpty }

    /// How many bytes are buffered beyond the replies taken so far.
    var bufferedCount: Int { buffer.count - position }

    /// Forgets everything not yet taken as a reply; returns how many bytes that was. After STARTTLS,
    /// bytes the relay sent before the handshake must not be read as replies (RFC 3207 §6).
    mutating func discardBuffered() -> Int {
        let dropped = buffer.count - position + partialBytes
        buffer.removeAll(keepingCapacity: true)
        position = 0
        code = nil
        lines = []
        rawLines = []
        partialBytes = 0
        return dropped
    }

    /// The next complete reply, or nil when more bytes are needed.
    mutating func nextReply() throws(ReplyParseError) -> ParsedReply? {
        while let line = try nextLine() {
            let parsed = try Self.parse(line)
            if let code, code != parsed.code {
                throw .inconsistentCodes(code, parsed.code)
            }
            code = parsed.code
            lines.append(parsed.text)
            if keepsRawLines { rawLines.append(Self.sanitize(line)) }
            partialBytes += line.count
            if lines.count > Self.maximumLines { throw .tooManyLines }
            if parsed.isLast {
                defer {
                    code = nil
                    lines = []
                    rawLines = []
                    partialBytes = 0
                }
                return ParsedReply(reply: SMTPReply(code: parsed.code, lines: lines), rawLines: rawLines)
            }
        }
        return nil
    }

    /// The next line without its terminator (CRLF; a bare LF is tolerated), or nil when incomplete.
    private mutating func nextLine() throws(ReplyParseError) -> ArraySlice<UInt8>? {
        guard let newline = buffer[position...].firstIndex(of: 0x0A) else {
            if buffer.count - position >= Self.maximumLineLength { throw .lineTooLong }
            compact()
            return nil
        }
        if newline + 1 - position > Self.maximumLineLength { throw .lineTooLong }
        var end = newline
        if end > position, buffer[end - 1] == 0x0D { end -= 1 }
        let line = buffer[position..<end]
        position = newline + 1
        return line
    }

    private mutating func compact() {
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
    }

    /// `Reply-code [ SP textstring ] CRLF` or `Reply-code "-" [ textstring ] CRLF` (RFC 5321 §4.2).
    private static func parse(_ line: ArraySlice<UInt8>) throws(ReplyParseError) -> (
        code: Int, isLast: Bool, text: String
    ) {
        let start = line.startIndex
        guard line.count >= 3, (0x32...0x35).contains(line[start]), (0x30...0x39).contains(line[start + 1]),
            (0x30...0x39).contains(line[start + 2])
        else { throw .malformed(sanitize(line)) }
        let code = Int(line[start] - 0x30) * 100 + Int(line[start + 1] - 0x30) * 10 + Int(line[start + 2] - 0x30)
        if line.count == 3 { return (code, true, "") }
        let separator = line[start + 3]
        guard separator == 0x20 || separator == 0x2D else { throw .malformed(sanitize(line)) }
        return (code, separator == 0x20, sanitize(line[(start + 4)...]))
    }

    /// Reply text as it may be shown: UTF-8 (invalid bytes replaced), control characters as "?" so a
    /// relay cannot put terminal escapes into `mailctl show`.
    static func sanitize(_ bytes: some Collection<UInt8>) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        // Control characters are single bytes in UTF-8 (and a replaced invalid byte is none): looking at the
        // bytes is the same test, without decoding scalars.
        guard bytes.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) else { return text }
        return String(
            String.UnicodeScalarView(
                text.unicodeScalars.map {
                    $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F ? "?" : $0
                }))
    }
}

/// A complete reply and its lines as received, for the transcript.
struct ParsedReply: Sendable, Equatable {
    var reply: SMTPReply
    var rawLines: [String]
}

/// Why the relay's bytes are not an SMTP reply.
enum ReplyParseError: Error, Sendable, Equatable, CustomStringConvertible {
    case lineTooLong
    case malformed(String)
    case inconsistentCodes(Int, Int)
    case tooManyLines

    var description: String {
        switch self {
        case .lineTooLong: return "reply line longer than \(SMTPReplyParser.maximumLineLength) octets"
        case .malformed(let line):
            let shown = line.count > 60 ? String(line.prefix(60)) + "…" : line
            return "malformed reply line \"\(shown)\""
        case .inconsistentCodes(let first, let other): return "multi-line reply mixes codes \(first) and \(other)"
        case .tooManyLines: return "reply of more than \(SMTPReplyParser.maximumLines) lines"
        }
    }
}
