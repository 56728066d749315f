/// A complete SMTP reply (RFC 5321 §4.2): a three-digit code, an optional enhanced status code
/// (RFC 3463, when the relay offers ENHANCEDSTATUSCODES) and the text of each line.
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    /// e.g. "5.1.1", taken from the start of the first line when present.
    public var enhancedCode: String?
    /// The text of each line, without the code, separator and CRLF.
    public var lines: [String]

    public init(code: Int, enhancedCode: String? = nil, lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines
    }

    /// The class of a reply (its first digit), which is all that decides what happens next.
    public enum Kind: Sendable {
        case positiveCompletion  // 2xx
        case positiveIntermediate  // 3xx
        case transientNegative  // 4xx
        case permanentNegative  // 5xx
        case invalid
    }

    public var kind: Kind {
        switch code / 100 {
        case 2: return .positiveCompletion
        case 3: return .positiveIntermediate
        case 4: return .transientNegative
        case 5: return .permanentNegative
        default: return .invalid
        }
    }

    public var isPositive: Bool { kind == .positiveCompletion || kind == .positiveIntermediate }

    /// The first line's text after the enhanced code.
    public var text: String { lines.first ?? "" }

    /// One line for people and for the outbox: `550 5.1.1 user unknown`, continuation lines joined.
    public var description: String {
        var out = String(code)
        if let enhancedCode { out += " " + enhancedCode }
        let joined = lines.filter { !$0.isEmpty }.joined(separator: " / ")
        if !joined.isEmpty { out += " " + joined }
        return out
    }
}
