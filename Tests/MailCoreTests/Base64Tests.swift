import MailCore
import Testing

@Suite("Base64 (RFC 4648)")
struct Base64Tests {
    @Test(
        "RFC 4648 §10 vectors",
        arguments: [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ]
    )
    func vectors(plain: String, encoded: String) {
        #expect(Base64.encodeToString(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test("MIME lines are 76 characters, CRLF between them and none at the end (RFC 2045 §6.8)")
    func lineLength() {
        let data = (0..<1000).map { UInt8($0 % 256) }
        let encoded = Base64.encode(data, lineLength: 76)
        let lines = encoded.split(separator: 0x0A, omittingEmptySubsequences: false)
        #expect(lines.dropLast().allSatisfy { $0.count == 77 && $0.last == 0x0D })
        #expect(lines.last!.count <= 76 && !lines.last!.isEmpty && !lines.last!.contains(0x0D))
        #expect(Base64.decode(bytes: encoded) == data)
        // Exactly one line: no CRLF at all.
        #expect(!Base64.encode(Array(repeating: 0, count: 57), lineLength: 76).contains(0x0D))
        #expect(Base64.encode(Array(repeating: 0, count: 58), lineLength: 76).count == 76 + 2 + 4)
    }

    @Test("all byte values round-trip")
    func roundTrip() {
        for count in 0..<10 {
            let data = (0..<(256 + count)).map { UInt8(($0 * 7 + count) % 256) }
            #expect(Base64.decode(Base64.encodeToString(data)) == data)
        }
    }

    @Test("invalid input is refused", arguments: ["Zm9v!", "Zg=a", "Z", "Zm9vY", "Zg===", "=Zg", "Zm9v YmFy"])
    func invalid(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test("line breaks are ignored and padding is optional")
    func lenient() {
        #expect(Base64.decode("Zm9v\r\nYmFy") == Array("foobar".utf8))
        #expect(Base64.decode("Zg") == Array("f".utf8))
        #expect(Base64.decode("Zm8") == Array("fo".utf8))
    }
}
