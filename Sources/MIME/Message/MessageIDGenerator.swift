import MailCore

/// Makes Message-IDs (RFC 5322 §3.6.4): `<time>.<random>@<domain>`, without the angle brackets.
public enum MessageIDGenerator {
    /// A unique id: the time in milliseconds (base 36), then 128 random bits (26 base-32 digits), so two ids are
    /// equal only if both the millisecond and 128 bits from the system's CSPRNG are; right side = `domain`, in
    /// ASCII (an internationalised domain as its `xn--` form; `localhost` when none is usable).
    public static func generate(domain: String) -> String {
        var rng = SystemRandomPair()
        return generate(domain: domain, now: SystemWallClock().now(), using: &rng)
    }

    /// The system's CSPRNG, both 64-bit words an id needs from one getrandom(2) call (the standard
    /// library's generator makes one call per word, and a system call is most of an id's cost).
    private struct SystemRandomPair: RandomNumberGenerator {
        private var words: (UInt64, UInt64) = (0, 0)
        private var used = 2

        mutating func next() -> UInt64 {
            if used == 2 {
                if !withUnsafeMutableBytes(of: &words, { systemRandomBytes($0) }) {
                    var system = SystemRandomNumberGenerator()
                    words = (system.next(), system.next())
                }
                used = 0
            }
            used += 1
            return used == 1 ? words.0 : words.1
        }
    }

    /// `generate(domain:)` with the clock and randomness given, for tests.
    public static func generate<R: RandomNumberGenerator>(
        domain: String, now: Timestamp, using rng: inout R
    ) -> String {
        var random: [UInt8] = []
        random.reserveCapacity(26)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
        for _ in 0..<2 {
            var word = rng.next() as UInt64
            // 13 digits of 5 bits take 65 bits; the top digit of each half uses the 4 that remain.
            for _ in 0..<13 {
                random.append(alphabet[Int(word & 31)])
                word >>= 5
            }
        }
        let time = String(UInt64(max(0, now.milliseconds)), radix: 36)
        return "\(time).\(String(decoding: random, as: UTF8.self))@\(rightSide(domain))"
    }

    private static let atext = Set("abcdefghijklmnopqrstuvwxyz0123456789-!#$%&'*+/=?^_`{|}~".utf8)

    /// RFC 5322 §3.6.4 id-right: a dot-atom-text, or a domain literal `[…]`, in ASCII.
    static func rightSide(_ domain: String) -> String {
        let trimmed = domain.trimmingSpaces
        if isPlainLowercaseDomain(trimmed) { return trimmed }
        if trimmed.hasPrefix("[") {
            // A valid literal is a valid domain of an address; anything else is not usable.
            return (try? EmailAddress.parse("id@" + trimmed)) != nil ? trimmed : "localhost"
        }
        guard let ascii = Punycode.asciiDomain(trimmed), !ascii.isEmpty else { return "localhost" }
        let labels = ascii.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(Self.atext.contains) }) else { return "localhost" }
        return ascii
    }

    /// Lower-case ASCII letters, digits and hyphens in non-empty labels (the usual sender domain): already
    /// its own ASCII form, with no Punycode pass to make.
    private static func isPlainLowercaseDomain(_ domain: String) -> Bool {
        var previous: UInt8 = 0x2E
        for b in domain.utf8 {
            let ok = (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || (b == 0x2E && previous != 0x2E)
            guard ok else { return false }
            previous = b
        }
        return previous != 0x2E
    }
}
