import MIME
import MailCore
import Testing

@Suite("Message-IDs and Punycode")
struct MessageIDGeneratorTests {
    @Test("time, 128 random bits, the domain on the right")
    func shape() throws {
        var rng = SplitMix64(seed: 1)
        let id = MessageIDGenerator.generate(domain: "acme.example", now: fixedDate, using: &rng)
        let parts = id.split(separator: "@")
        #expect(parts.count == 2 && parts[1] == "acme.example")
        let left = parts[0].split(separator: ".")
        #expect(left.count == 2)
        #expect(Int64(left[0], radix: 36) == fixedDate.milliseconds)
        #expect(left[1].count == 26)
        #expect(id.utf8.allSatisfy { (0x21..<0x7F).contains($0) && $0 != 0x3C && $0 != 0x3E })
    }

    @Test("unique")
    func unique() {
        let ids = (0..<2000).map { _ in MessageIDGenerator.generate(domain: "acme.example") }
        #expect(Set(ids).count == ids.count)
    }

    @Test(
        "the right side is ASCII",
        arguments: [
            ("Acme.Example", "acme.example"), ("ação.com.br", "xn--ao-siap.com.br"), ("", "localhost"),
            ("bad domain", "localhost"), ("[192.0.2.1]", "[192.0.2.1]"), ("[nonsense]", "localhost"),
            ("a..b", "localhost"),
        ]
    )
    func rightSide(domain: String, expected: String) {
        #expect(MessageIDGenerator.generate(domain: domain).hasSuffix("@" + expected))
    }

    /// RFC 3492 §7.1 samples, and common ones.
    @Test(
        "Punycode vectors",
        arguments: [
            ("bücher", "bcher-kva"), ("münchen", "mnchen-3ya"), ("ação", "ao-siap"),
            ("他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"),  // RFC 3492 §7.1 (B)
            ("3年B組金八先生", "3B-ww4c5e180e575a65lsy2b"),  // (L)
            ("安室奈美恵-with-SUPER-MONKEYS", "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"),  // (M)
            ("ليهمابتكلموشعربي؟", "egbpdaj6bu4bxfgehfvwxn"),  // (A)
        ]
    )
    func punycode(label: String, expected: String) {
        #expect(Punycode.encode(label) == expected)
    }
}
