import Testing

@testable import MailCore

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(#"{"a": [1, -2.5e3, true, false, null, "x\u00e7\n\"", {}], "b": {"c": []}}"#)
        #expect(value["a"] == [1, .number("-2.5e3"), true, false, nil, "xç\n\"", .object([])])
        #expect(value["b"]?["c"] == [])
    }

    @Test func keepsMemberOrderAndNumberText() throws {
        let value = try JSONParser.parse(#"{"z": 1.50, "a": 2}"#)
        #expect(value.jsonText == #"{"z":1.50,"a":2}"#)
    }

    @Test func escapesC0DelAndC1ControlsButNotOtherText() throws {
        let text = "a\u{1B}[31m\u{7F}\u{9B}\u{85}\u{A0}é\u{80}z"
        #expect(JSONValue.string(text).jsonText == #""a\u001b[31m\u007f\u009b\u0085\#u{A0}é\u0080z""#)
        #expect(try JSONParser.parse(JSONValue.string(text).jsonText) == .string(text))
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00 ok""#) == .string("😀 ok"))
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("{", "expected a member name"),
        (#"{"a" 1}"#, "expected ':'"),
        ("[1,]", "unexpected character"),
        ("01", "unexpected data after the JSON value"),
        (#""\ud800""#, "unpaired surrogate"),
        (#""a\x""#, "invalid escape"),
        ("\"a\u{01}\"", "control character in string"),
        ("\"a\\nb\u{01}\"", "control character in string"),
        ("\"a\\nbc", "unterminated string"),
        (#"{"a": 1, "a": 2}"#, "duplicate member \"a\""),
        ("tru", "unexpected"),
        ("1.", "invalid number"),
    ])
    func refusesInvalidJSON(input: String, reason: String) {
        #expect {
            try JSONParser.parse(input)
        } throws: { error in
            (error as? JSONParseError)?.reason.contains(reason) == true
        }
    }

    @Test func refusesInvalidUTF8() throws {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
        // Wherever the bad byte falls (the scan reads eight bytes at a time), with or without an escape
        // before it (two different paths), and a truncated sequence or an overlong form alike.
        for bad: [UInt8] in [[0xFF], [0xC3], [0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80]] {
            for offset in 0..<17 {
                let plain = Array(repeating: UInt8(0x61), count: offset)
                for escape: [UInt8] in [[], [0x5C, 0x6E]] {
                    let input = [0x22] + escape + plain + bad + Array(repeating: 0x62, count: 9) + [0x22]
                    #expect(throws: JSONParseError.self, "\(input)") { try JSONParser.parse(input) }
                }
            }
        }
        // Valid non-ASCII text still reads back, on both paths.
        #expect(try JSONParser.parse("\"ação, señal\"") == .string("ação, señal"))
        #expect(try JSONParser.parse("\"ação\\nseñal\"") == .string("ação\nseñal"))
    }

    @Test func limitsNesting() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
    }

    /// Strings with escapes take the slow path, which copies the runs between escapes whole.
    @Test func stringsWithEscapesRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["a", "bcd", "\"", "\\", "\n", "\r\n", "\t", "\u{01}", "ç", "ção", "😀", "/", " "]
        for _ in 0..<300 {
            let text = (0..<Int.random(in: 0...30, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }
                .joined()
            let value: JSONValue = ["t": .string(text), "n": 1]
            #expect(try JSONParser.parse(value.jsonText) == value, "\(text.debugDescription)")
        }
    }

    @Test func serializesControlCharactersEscaped() throws {
        let value: JSONValue = ["s": .string("a\"b\\c\n\u{01}ç")]
        #expect(value.jsonText == #"{"s":"a\"b\\c\n\u0001ç"}"#)
        #expect(try JSONParser.parse(value.jsonText) == value)
    }
}
