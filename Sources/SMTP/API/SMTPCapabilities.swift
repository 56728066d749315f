import MailCore

/// What a relay offered in its EHLO reply (RFC 5321 §4.1.1.1): the service extensions this client uses.
public struct SMTPCapabilities: Sendable, Equatable {
    /// RFC 2920: commands may be sent in groups without waiting for each reply.
    public var pipelining = false
    /// RFC 1870: SIZE was offered; `sizeLimit` is its limit (nil: offered without a limit, or not offered).
    public var size = false
    public var sizeLimit: Int?
    /// RFC 6152: BODY=8BITMIME.
    public var eightBitMIME = false
    /// RFC 6531: internationalised addresses.
    public var smtpUTF8 = false
    /// RFC 2034: replies carry RFC 3463 codes.
    public var enhancedStatusCodes = false
    /// RFC 3207.
    public var startTLS = false
    /// RFC 4954: the SASL mechanisms offered, upper-cased, e.g. ["LOGIN", "PLAIN"].
    public var authMechanisms: [String] = []

    /// Nothing offered: a relay that only knows HELO, or before EHLO.
    public init() {}

    /// Reads the keywords of a 250 reply to EHLO; its first line is the relay's name, not a keyword.
    /// Keywords and parameters are ASCII (RFC 5321 §4.1.1.1): words are split and upper-cased on bytes,
    /// which costs a fraction of splitting by Character (this runs once per connection).
    public init(ehloReply reply: SMTPReply) {
        for line in reply.lines.dropFirst() {
            let words = line.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map {
                String(decoding: $0, as: UTF8.self)
            }
            guard let first = words.first else { continue }
            let keyword = Self.asciiUppercased(first)
            switch keyword {
            case "PIPELINING": pipelining = true
            case "SIZE":
                size = true
                if let limit = words.dropFirst().first.flatMap({ Int($0) }), limit > 0 { sizeLimit = limit }
            case "8BITMIME": eightBitMIME = true
            case "SMTPUTF8": smtpUTF8 = true
            case "ENHANCEDSTATUSCODES": enhancedStatusCodes = true
            case "STARTTLS": startTLS = true
            case "AUTH": addMechanisms(words.dropFirst())
            default:
                // "AUTH=LOGIN PLAIN": the pre-RFC 4954 form some relays still send.
                if keyword.hasPrefix("AUTH=") {
                    addMechanisms([String(first.dropFirst(5))] + words.dropFirst())
                }
            }
        }
    }

    private mutating func addMechanisms(_ names: some Sequence<String>) {
        for name in names.map(Self.asciiUppercased) where !name.isEmpty && !authMechanisms.contains(name) {
            authMechanisms.append(name)
        }
    }

    private static func asciiUppercased(_ word: String) -> String {
        String(decoding: word.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
    }
}
