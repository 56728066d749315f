import MIME
import MailCore
import Testing

@Suite("Header encoding and folding (RFC 5322 §2.2.3, RFC 2047)")
struct HeaderFoldingTests {
    func headerSection(_ m: ComposedMessage) -> [UInt8] {
        let blank = crlfLines(m.bytes).firstIndex(where: \.isEmpty)!
        return Array(crlfLines(m.bytes)[..<blank].joined(separator: [0x0D, 0x0A]))
    }

    func checkLines(_ m: ComposedMessage, limit: Int = 78) {
        let header = headerSection(m)
        #expect(header.allSatisfy { $0 < 0x80 })
        for line in crlfLines(header) {
            #expect(line.count <= limit, "line over \(limit): \(text(line))")
            // RFC 5322 §3.2.2: no line made of white space only.
            #expect(line.contains { $0 != 0x20 && $0 != 0x09 })
        }
    }

    @Test("a 300-character Portuguese subject: lines of at most 78, ASCII only, decodes back exactly")
    func longPortugueseSubject() throws {
        let subject = String(
            String(repeating: "Solicitação nº 123 aprovada: relatório de ações, conclusão e informações. ", count: 5)
                .prefix(300))
        #expect(subject.count == 300)
        let m = MessageComposer.compose(input(subject: subject))
        checkLines(m, limit: 76)  // RFC 2047 §2: 76 for lines with encoded words
        let value = try #require(SplitMessage(m.bytes).value("Subject"))
        #expect(EncodedWords.decode(value) == subject)
        #expect(crlfLines(headerSection(m)).filter { $0.first == 0x20 }.count >= 5)
        #expect(m.subject == subject)
    }

    @Test("a long ASCII subject folds at its spaces and unfolds exactly")
    func longASCIISubject() throws {
        let subject = (1...40).map { "word\($0)" }.joined(separator: " ") + "  two  spaces\tand a tab"
        let m = MessageComposer.compose(input(subject: subject))
        checkLines(m)
        #expect(SplitMessage(m.bytes).value("Subject") == subject)
        #expect(!text(m.bytes).contains("=?"))
    }

    @Test("an unbreakable ASCII word longer than a line is kept whole when it fits in 998 octets")
    func longWord() throws {
        let token = String(repeating: "k", count: 500)
        let m = MessageComposer.compose(input(headers: [HeaderField("X-Token", "id \(token) end")]))
        let lines = crlfLines(headerSection(m)).map { text($0) }
        #expect(lines.contains(" " + token))
        #expect(SplitMessage(m.bytes).value("X-Token") == "id \(token) end")
    }

    @Test("a word that cannot fit in 998 octets is carried by encoded words instead")
    func hugeWord() throws {
        let token = String(repeating: "k", count: 2000)
        let m = MessageComposer.compose(input(headers: [HeaderField("X-Token", token)]))
        checkLines(m, limit: 76)
        #expect(EncodedWords.decode(try #require(SplitMessage(m.bytes).value("X-Token"))) == token)
    }

    @Test("non-ASCII X- header values and control characters become encoded words")
    func xHeaders() throws {
        let m = MessageComposer.compose(
            input(headers: [HeaderField("X-Nome", "Conceição"), HeaderField("X-Ctl", "a\u{1}b")]))
        checkLines(m)
        let split = SplitMessage(m.bytes)
        #expect(EncodedWords.decode(try #require(split.value("X-Nome"))) == "Conceição")
        #expect(EncodedWords.decode(try #require(split.value("X-Ctl"))) == "a\u{1}b")
    }

    @Test("text that looks like an encoded word is itself encoded, so it reads back unchanged")
    func lookalike() throws {
        let subject = "literally =?utf-8?q?x?= here"
        let m = MessageComposer.compose(input(subject: subject))
        let value = try #require(SplitMessage(m.bytes).value("Subject"))
        #expect(value != subject)
        #expect(EncodedWords.decode(value) == subject)
    }

    @Test("structured fields are written as they are, even with '=?' in them (no encoded words allowed there)")
    func structured() {
        let url = "<https://acme.example/u?k=?x&n=1>, <mailto:unsub@acme.example?subject=unsubscribe>"
        let references = (1...12).map { "<message.\($0)@acme.example>" }.joined(separator: " ")
        let m = MessageComposer.compose(
            input(headers: [HeaderField("List-Unsubscribe", url), HeaderField("References", references)]))
        checkLines(m)
        #expect(SplitMessage(m.bytes).value("List-Unsubscribe") == url)
        #expect(SplitMessage(m.bytes).value("References") == references)
    }

    @Test("an empty subject is written as an empty field")
    func emptySubject() {
        let m = MessageComposer.compose(input(subject: ""))
        #expect(crlfLines(m.bytes).contains { text($0) == "Subject: " })
    }

    @Test("leading and trailing white space of a subject: folded lines never hold white space only")
    func whiteSpace() throws {
        let subject = String(repeating: "x", count: 70) + "      "
        let m = MessageComposer.compose(input(subject: subject))
        checkLines(m, limit: 998)
        #expect(SplitMessage(m.bytes).value("Subject") == subject)
    }

    @Test(
        "display names: atoms as they are, specials quoted, non-ASCII encoded",
        arguments: [
            ("Ana Silva <a@b.example>", "Ana Silva <a@b.example>"),
            ("\"Silva, Ana\" <a@b.example>", "\"Silva, Ana\" <a@b.example>"),
            ("\"J. R. \\\"Bob\\\" Smith\" <a@b.example>", "\"J. R. \\\"Bob\\\" Smith\" <a@b.example>"),
            ("\"a\\\\b\" <a@b.example>", "\"a\\\\b\" <a@b.example>"),
            ("João <a@b.example>", "=?utf-8?b?Sm/Do28=?= <a@b.example>"),
            ("a@b.example", "a@b.example"),
        ]
    )
    func displayNames(from: String, expected: String) {
        let m = MessageComposer.compose(input(from: from))
        #expect(SplitMessage(m.bytes).value("From") == expected)
    }

    @Test("many recipients fold between addresses, each address whole")
    func manyRecipients() throws {
        let to = (1...30).map { "Pessoa Número \($0) <pessoa.\($0)@example.com>" }
        let m = MessageComposer.compose(input(to: to))
        checkLines(m)
        let value = try #require(SplitMessage(m.bytes).value("To"))
        let decoded = try Mailbox.parseList(value)
        #expect(decoded.map(\.address.string) == (1...30).map { "pessoa.\($0)@example.com" })
        #expect(decoded.map { EncodedWords.decode($0.displayName!) } == (1...30).map { "Pessoa Número \($0)" })
    }

    @Test("a long display name is split over lines as encoded words")
    func longDisplayName() throws {
        let name = String(repeating: "Conceição ", count: 20).trimmingSpaces
        let m = MessageComposer.compose(input(to: ["\"\(name)\" <c@b.example>"]))
        checkLines(m)
        let box = try Mailbox.parse(try #require(SplitMessage(m.bytes).value("To")))
        #expect(EncodedWords.decode(box.displayName!) == name)
    }

    @Test("CR and LF in values cannot inject header fields, even if the validator is bypassed")
    func injection() {
        let m = MessageComposer.compose(
            input(subject: "hi\r\nBcc: victim@example.com", headers: [HeaderField("X-A", "v\nX-Injected: 1")]))
        let names = SplitMessage(m.bytes).fields.map(\.name)
        #expect(!names.contains("Bcc"))
        #expect(!names.contains("X-Injected"))
        #expect(hasOnlyCRLF(m.bytes))
    }
}
