import MIME
import Testing

@Suite("Quoted-printable (RFC 2045 §6.7)")
struct QuotedPrintableTests {
    func encode(_ s: String) -> String { text(QuotedPrintable.encode(text: Array(s.utf8))) }

    @Test(
        "encoding rules 1–4",
        arguments: [
            ("plain text", "plain text"),
            ("a=b", "a=3Db"),  // rule 1: "=" itself
            ("Olá", "Ol=C3=A1"),  // rule 1: 8-bit bytes
            ("x\u{1}y\u{7F}", "x=01y=7F"),  // rule 1: controls
            ("tab\tinside", "tab\tinside"),  // rule 3: white space stays inside a line
            ("end \n", "end=20\r\n"),  // rule 3: …but not at its end
            ("end\t", "end=09"),
            ("two  \r\nlines", "two =20\r\nlines"),
            ("a\rb\nc\r\nd", "a\r\nb\r\nc\r\nd"),  // rule 4: every line break is CRLF
            ("\n\n", "\r\n\r\n"),
            (".\n..x\n.", ".\r\n..x\r\n."),  // dots are the SMTP layer's business
            ("From here", "From here"),
            ("", ""),
        ]
    )
    func rules(input: String, expected: String) {
        #expect(encode(input) == expected)
    }

    @Test("rule 5: soft line breaks keep lines within 76 characters and never split =XX")
    func softBreaks() {
        let x76 = String(repeating: "x", count: 76)
        #expect(encode(x76) == x76)  // a last line may use all 76
        #expect(encode(x76 + "\n") == x76 + "\r\n")
        let x77 = String(repeating: "x", count: 77)
        #expect(encode(x77) == String(repeating: "x", count: 75) + "=\r\n" + "xx")
        let x74 = String(repeating: "x", count: 74)
        #expect(encode(x74 + "éx") == x74 + "=\r\n=C3=A9x")
        #expect(encode(String(repeating: "x", count: 73) + "é") == String(repeating: "x", count: 73) + "=\r\n=C3=A9")
        // A space before a soft break is not at the end of the encoded line: the "=" follows it.
        #expect(encode(String(repeating: "x", count: 74) + " yz") == String(repeating: "x", count: 74) + " =\r\nyz")
    }

    @Test("worst cases: every byte escaped, every line short, white space everywhere")
    func worstCases() {
        let inputs: [[UInt8]] = [
            [UInt8](repeating: 0xFF, count: 1000), [UInt8](repeating: 0x3D, count: 999),
            [UInt8](repeating: 0x0A, count: 500), [UInt8](repeating: 0x20, count: 700),
            Array(repeating: [UInt8]([0x20, 0x0A]), count: 300).flatMap { $0 }, [0x0D], [0x20], [0xC3],
        ]
        for input in inputs {
            let encoded = QuotedPrintable.encode(text: input)
            #expect(crlfLines(encoded).allSatisfy { $0.count <= 76 })
            #expect(QuotedPrintable.decode(encoded) == normaliseLineEnds(input))
        }
    }

    @Test("RFC 2045 §6.7 rule 5 example decodes")
    func rfcExample() {
        let encoded = "Now's the time =\r\nfor all folk to come=\r\n to the aid of their country."
        #expect(
            text(QuotedPrintable.decode(Array(encoded.utf8)))
                == "Now's the time for all folk to come to the aid of their country.")
    }

    @Test("decoding: =XX, soft breaks, trailing white space, lower-case hex and malformed '='")
    func decoding() {
        #expect(text(QuotedPrintable.decode(Array("a=3Db=c3=a9 \r\nc=\r\nd=ZZ".utf8))) == "a=bé\r\ncd=ZZ")
    }

    @Test("any text round-trips, with short ASCII lines and no trailing white space")
    func roundTrip() {
        var rng = SplitMix64(seed: 2045)
        let alphabet: [UInt8] = Array("ab =.\t\r\n".utf8) + [0xC3, 0xA9, 0x00, 0xFF, 0x3D]
        for _ in 0..<300 {
            let length = Int(rng.next() % 400)
            let input = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let encoded = QuotedPrintable.encode(text: input)
            #expect(encoded.allSatisfy { $0 == 0x0D || $0 == 0x0A || $0 == 0x09 || (0x20..<0x7F).contains($0) })
            #expect(hasOnlyCRLF(encoded))
            for line in crlfLines(encoded) {
                #expect(line.count <= 76)
                #expect(line.last != 0x20 && line.last != 0x09)
            }
            #expect(QuotedPrintable.decode(encoded) == normaliseLineEnds(input))
        }
    }
}

/// CR, LF and CRLF as CRLF.
func normaliseLineEnds(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
        if bytes[i] == 0x0D || bytes[i] == 0x0A {
            out += [0x0D, 0x0A]
            i += (bytes[i] == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A) ? 2 : 1
        } else {
            out.append(bytes[i])
            i += 1
        }
    }
    return out
}

/// A small deterministic generator, so property tests fail the same way every time.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
