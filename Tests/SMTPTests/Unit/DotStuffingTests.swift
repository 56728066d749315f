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
}
