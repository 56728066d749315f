import Testing

@testable import Control

@Suite struct ControlConnectionTests {
    @Test func splitsLinesAndKeepsThePartialOne() {
        let c = ControlConnection(id: 0, fd: -1, peer: nil)
        c.input = Array("{\"a\":1}\r\n{\"b\":2}\n{\"c\"".utf8)
        let (lines, over) = c.takeLines(limit: 100)
        #expect(!over)
        #expect(lines.map { String(decoding: $0, as: UTF8.self) } == ["{\"a\":1}", "{\"b\":2}"])
        #expect(String(decoding: c.input, as: UTF8.self) == "{\"c\"")
        c.input += Array(":3}\n".utf8)
        #expect(c.takeLines(limit: 100).lines.map { String(decoding: $0, as: UTF8.self) } == ["{\"c\":3}"])
        #expect(c.input.isEmpty)
    }

    @Test func reportsAPartialLineOverTheLimit() {
        let c = ControlConnection(id: 0, fd: -1, peer: nil)
        c.input = Array(repeating: UInt8(ascii: "x"), count: 11)
        #expect(c.takeLines(limit: 10).overLimit)
        let d = ControlConnection(id: 0, fd: -1, peer: nil)
        d.input = Array(repeating: UInt8(ascii: "x"), count: 11) + [0x0A]
        #expect(d.takeLines(limit: 10).overLimit)
        let e = ControlConnection(id: 0, fd: -1, peer: nil)
        e.input = Array(repeating: UInt8(ascii: "x"), count: 10) + [0x0A]
        #expect(!e.takeLines(limit: 10).overLimit)
    }

    @Test func answersGoOutInRequestOrder() {
        let c = ControlConnection(id: 0, fd: -1, peer: nil)
        c.nextSequence = 3
        c.complete(sequence: 2, line: Array("c\n".utf8))
        c.complete(sequence: 1, line: Array("b\n".utf8))
        #expect(c.output.isEmpty && c.outstanding == 3)
        c.complete(sequence: 0, line: Array("a\n".utf8))
        #expect(String(decoding: c.output, as: UTF8.self) == "a\nb\nc\n")
        #expect(c.outstanding == 0)
    }

    @Test func stopsReadingFromAClientThatDoesNotReadItsAnswers() {
        let c = ControlConnection(id: 0, fd: -1, peer: nil)
        #expect(c.wantsInput)
        c.nextSequence = 512
        #expect(!c.wantsInput)
    }
}
