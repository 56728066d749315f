import Testing

@testable import SMTP

@Suite("Dot-stuffing (RFC 5321 §4.5.2)")
struct DotStuffingTests {
    private func wire(_ text: String) -> String {
        String(decoding: DotStuffing.encode(Array(text.utf8)), as: UTF8.self)
    }

    @Test func plainDataGetsOnlyTheTerminator() {
        #expect(wire("Subject: x\r\n\r\nhello\r\n") == "Subject: x\r\n\r\nhello\r\n.\r\n")
    }

    @Test func lineThatIsJustADot() {
        #expect(wire("a\r\n.\r\nb\r\n") == "a\r\n..\r\nb\r\n.\r\n")
    }

    @Test func lineStartingWithTwoDots() {
        #expect(wire("a\r\n..x\r\n") == "a\r\n...x\r\n.\r\n")
    }

    @Test func firstLineIsADot() {
        #expect(wire(".\r\nrest\r\n") == "..\r\nrest\r\n.\r\n")
        #expect(wire(".hidden") == "..hidden\r\n.\r\n")
    }

    @Test func dataNotEndingInCRLF() {
        #expect(wire("last line") == "last line\r\n.\r\n")
    }

    @Test func dotsInsideALineAreLeftAlone() {
        #expect(wire("a.b\r\nx .\r\n") == "a.b\r\nx .\r\n.\r\n")
    }

    @Test func emptyData() {
        #expect(wire("") == ".\r\n")
    }

    @Test func bareLineEndsBecomeCRLFSoNoSmuggledEndOfData() {
        // "\n.\r\n" would end the data early at a relay that takes a bare LF as a line end.
        #expect(wire("a\n.\r\nMAIL FROM:<x>\r\n") == "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n")
        #expect(wire("a\r.\rb") == "a\r\n..\r\nb\r\n.\r\n")
    }

    @Test func worstCaseGrowthFitsAndMatchesALineByLineReading() {
        // Every byte doubles: a "." at the start of each line, every line end a bare LF.
        #expect(wire(".\n.\n.\n") == "..\r\n..\r\n..\r\n.\r\n")
        // Random mixes of the bytes that matter, against a plain byte-at-a-time reading of the rules.
        var generator = SystemRandomNumberGenerator()
        // Plain letters weigh more, so that runs of eight and more (scanned a word at a time) turn up too.
        let alphabet: [UInt8] = [0x2E, 0x0D, 0x0A, 0xC3, 0xA7] + Array(repeating: 0x61, count: 8)
        for _ in 0..<1000 {
            let input = (0..<Int.random(in: 0...80, using: &generator)).map { _ in
                alphabet.randomElement(using: &generator)!
            }
            #expect(DotStuffing.encode(input) == reference(input), "input \(input)")
        }
    }

    private func reference(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var atLineStart = true
        var index = 0
        while index < data.count {
            let byte = data[index]
            index += 1
            if byte == 0x0D || byte == 0x0A {
                if byte == 0x0D, index < data.count, data[index] == 0x0A { index += 1 }
                out += [0x0D, 0x0A]
                atLineStart = true
                continue
            }
            if atLineStart, byte == 0x2E { out.append(0x2E) }
            out.append(byte)
            atLineStart = false
        }
        if !atLineStart { out += [0x0D, 0x0A] }
        return out + [0x2E, 0x0D, 0x0A]
    }
}
