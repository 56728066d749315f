import MailCore
import Testing

@testable import SMTP

@Suite("Reply parser")
struct ReplyParserTests {
    private func parse(_ text: String) throws -> [ParsedReply] {
        var parser = SMTPReplyParser()
        parser.append(Array(text.utf8))
        var replies: [ParsedReply] = []
        while let reply = try parser.nextReply() { replies.append(reply) }
        return replies
    }

    @Test func singleLineReply() throws {
        let replies = try parse("250 2.1.0 OK\r\n")
        #expect(replies.map(\.reply) == [SMTPReply(code: 250, lines: ["2.1.0 OK"])])
        #expect(replies[0].rawLines == ["250 2.1.0 OK"])
    }

    @Test func multiLineReplyKeepsEveryLine() throws {
        let replies = try parse("250-relay.test\r\n250-PIPELINING\r\n250 HELP\r\n")
        #expect(replies.count == 1)
        #expect(replies[0].reply == SMTPReply(code: 250, lines: ["relay.test", "PIPELINING", "HELP"]))
        #expect(replies[0].rawLines == ["250-relay.test", "250-PIPELINING", "250 HELP"])
    }

    @Test func codeWithoutTextAndBareLF() throws {
        let replies = try parse("250\n354 go ahead\n")
        #expect(replies.map(\.reply) == [SMTPReply(code: 250, lines: [""]), SMTPReply(code: 354, lines: ["go ahead"])])
    }

    @Test func pipelinedRepliesComeOutInOrder() throws {
        let replies = try parse("250 mail ok\r\n550 5.1.1 no\r\n250 rcpt ok\r\n354 data\r\n")
        #expect(replies.map(\.reply.code) == [250, 550, 250, 354])
    }

    @Test func replyArrivingByteByByte() throws {
        var parser = SMTPReplyParser()
        var got: [SMTPReply] = []
        for byte in Array("220-hello\r\n220 there\r\n".utf8) {
            #expect(got.isEmpty)
            parser.append([byte])
            if let reply = try parser.nextReply() { got.append(reply.reply) }
        }
        #expect(got == [SMTPReply(code: 220, lines: ["hello", "there"])])
        #expect(!parser.hasPartialReply)
    }

    @Test func partialReplyIsReported() throws {
        var parser = SMTPReplyParser()
        parser.append(Array("250-first\r\n".utf8))
        #expect(try parser.nextReply() == nil)
        #expect(parser.hasPartialReply)
        var other = SMTPReplyParser()
        other.append(Array("25".utf8))
        #expect(try other.nextReply() == nil)
        #expect(other.hasPartialReply)
    }

    @Test func lineOf512OctetsIsAccepted() throws {
        let text = String(repeating: "x", count: 512 - 6)  // "250 " + text + CRLF = 512
        let replies = try parse("250 \(text)\r\n")
        #expect(replies.first?.reply.lines == [text])
    }

    @Test func lineOver512OctetsIsRefused() {
        let text = String(repeating: "x", count: 512 - 5)
        #expect(throws: ReplyParseError.lineTooLong) { try parse("250 \(text)\r\n") }
    }

    @Test func endlessLineIsRefusedBeforeItEnds() {
        var parser = SMTPReplyParser()
        parser.append(Array(repeating: UInt8(ascii: "a"), count: 600))
        #expect(throws: ReplyParseError.lineTooLong) { try parser.nextReply() }
        #expect(ReplyParseError.lineTooLong.description == "reply line longer than 512 octets")
    }

    @Test(arguments: ["hello there", "2500 ok", "25x ok", "650 odd", "250_ok", ""])
    func garbageLinesAreRefused(_ line: String) {
        #expect(throws: ReplyParseError.malformed(line)) { try parse(line + "\r\n") }
    }

    @Test func mixedCodesInOneReplyAreRefused() {
        #expect(throws: ReplyParseError.inconsistentCodes(250, 550)) { try parse("250-a\r\n550 b\r\n") }
    }

    @Test func endlessMultiLineReplyIsRefused() {
        let text = String(repeating: "250-x\r\n", count: SMTPReplyParser.maximumLines + 1)
        #expect(throws: ReplyParseError.tooManyLines) { try parse(text) }
    }

    @Test func controlCharactersAreNeutralised() throws {
        let replies = try parse("550 bad\u{1B}[31m red\u{7F}\r\n")
        #expect(replies[0].reply.lines == ["bad?[31m red?"])
    }

    @Test func invalidUTF8IsReplaced() throws {
        var parser = SMTPReplyParser()
        parser.append(Array("550 caf".utf8) + [0xE9] + Array("\r\n".utf8))
        #expect(try parser.nextReply()?.reply.lines == ["caf\u{FFFD}"])
    }

    @Test func discardingForgetsBufferedBytes() throws {
        var parser = SMTPReplyParser()
        parser.append(Array("220 Ready to start TLS\r\n250 forged\r\n".utf8))
        #expect(try parser.nextReply()?.reply.code == 220)
        #expect(parser.discardBuffered() == "250 forged\r\n".utf8.count)
        #expect(try parser.nextReply() == nil)
        #expect(!parser.hasPartialReply)
    }

    @Test func withoutRawLinesRepliesAndDiscardedCountsAreTheSame() throws {
        // The daemon parses without raw lines (no transcript, no trace log): the replies, and what a
        // discard after STARTTLS reports, must not depend on it.
        let input = Array("250-relay.test\r\n250 HELP\r\n220-first\r\n220-second".utf8)
        var counts: [Int] = []
        for keeps in [true, false] {
            var parser = SMTPReplyParser()
            parser.keepsRawLines = keeps
            parser.append(input)
            let reply = try #require(try parser.nextReply())
            #expect(reply.reply == SMTPReply(code: 250, lines: ["relay.test", "HELP"]))
            #expect(reply.rawLines == (keeps ? ["250-relay.test", "250 HELP"] : []))
            #expect(try parser.nextReply() == nil)
            #expect(parser.hasPartialReply)
            counts.append(parser.discardBuffered())
        }
        #expect(counts == ["220-first".utf8.count + "220-second".utf8.count, "220-first".utf8.count + "220-second".utf8.count])
    }
}

@Suite("Enhanced status codes and capabilities")
struct EnhancedCodeAndCapabilityTests {
    @Test func enhancedCodeIsSplitOff() {
        let reply = SMTPReply(code: 550, lines: ["5.1.1 no such user"]).splittingEnhancedCode()
        #expect(reply.enhancedCode == "5.1.1")
        #expect(reply.lines == ["no such user"])
        #expect(reply.description == "550 5.1.1 no such user")
    }

    @Test func repeatedCodesOnContinuationLinesAreSplitToo() {
        let reply = SMTPReply(code: 451, lines: ["4.3.0 try", "4.3.0 later"]).splittingEnhancedCode()
        #expect(reply.enhancedCode == "4.3.0")
        #expect(reply.lines == ["try", "later"])
        #expect(reply.description == "451 4.3.0 try / later")
    }

    @Test(arguments: [
        (250, "5.1.1 wrong class"), (550, "5.1 short"), (550, "5.1.1234 long"), (550, "x.1.1 bad"), (550, "no code"),
        (354, "3.0.0 no such class"),
    ])
    func textWithoutAValidCodeIsLeftAlone(_ code: Int, _ text: String) {
        let reply = SMTPReply(code: code, lines: [text]).splittingEnhancedCode()
        #expect(reply.enhancedCode == nil)
        #expect(reply.lines == [text])
    }

    @Test func codeAloneOnTheLine() {
        let reply = SMTPReply(code: 250, lines: ["2.0.0"]).splittingEnhancedCode()
        #expect(reply.enhancedCode == "2.0.0")
        #expect(reply.lines == [""])
        #expect(reply.description == "250 2.0.0")
    }

    @Test func ehloKeywordsAreRead() {
        let reply = SMTPReply(
            code: 250,
            lines: [
                "relay.test greets you", "PIPELINING", "SIZE 10240000", "8BITMIME", "smtputf8", "ENHANCEDSTATUSCODES",
                "STARTTLS", "AUTH LOGIN PLAIN", "AUTH=CRAM-MD5", "HELP",
            ])
        let caps = SMTPCapabilities(ehloReply: reply)
        #expect(caps.pipelining && caps.eightBitMIME && caps.smtpUTF8 && caps.enhancedStatusCodes && caps.startTLS)
        #expect(caps.size && caps.sizeLimit == 10_240_000)
        #expect(caps.authMechanisms == ["LOGIN", "PLAIN", "CRAM-MD5"])
    }

    @Test func keywordsAreCaseInsensitiveAndTabsSeparateWords() {
        let caps = SMTPCapabilities(
            ehloReply: SMTPReply(code: 250, lines: ["relay", "pipelining", "Size\t5000", "auth login\tplain", "auth=Login"]))
        #expect(caps.pipelining && caps.size && caps.sizeLimit == 5000)
        #expect(caps.authMechanisms == ["LOGIN", "PLAIN"])
        // Bytes that are not ASCII letters stay as they are: no keyword matches by accident.
        let odd = SMTPCapabilities(ehloReply: SMTPReply(code: 250, lines: ["relay", "PİPELINING", "ſtarttls"]))
        #expect(!odd.pipelining && !odd.startTLS)
    }

    @Test func firstLineIsNotAKeywordAndSizeWithoutLimit() {
        let caps = SMTPCapabilities(ehloReply: SMTPReply(code: 250, lines: ["STARTTLS", "SIZE"]))
        #expect(!caps.startTLS)
        #expect(caps.size && caps.sizeLimit == nil)
    }
}
