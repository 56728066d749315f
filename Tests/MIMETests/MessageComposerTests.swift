import MIME
import MailCore
import Testing

/// The parts of a multipart body (RFC 2046 §5.1.1): what lies between delimiter lines, the CRLF before each
/// delimiter excluded; nil when the close delimiter is missing.
func multipartParts(_ body: [UInt8], boundary: String) -> [[UInt8]]? {
    let delimiter = Array("--\(boundary)".utf8)
    let lines = crlfLines(body)
    var parts: [[UInt8]] = []
    var current: [ArraySlice<UInt8>]?
    for line in lines {
        if line.elementsEqual(delimiter) || line.elementsEqual(delimiter + [0x2D, 0x2D]) {
            if let current { parts.append(Array(current.joined(separator: [0x0D, 0x0A]))) }
            if line.count > delimiter.count { return parts }
            current = []
        } else {
            current?.append(line)
        }
    }
    return nil
}

/// The `boundary` parameter of a Content-Type value.
func boundary(of contentType: String) -> String? {
    guard let range = contentType.firstRange(of: "boundary=\"") else { return nil }
    let rest = contentType[range.upperBound...]
    return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
}

@Suite("Message composer")
struct MessageComposerTests {
    @Test("a plain text message, byte for byte")
    func golden() {
        let m = MessageComposer.compose(input())
        #expect(
            text(m.bytes) == """
                Date: Mon, 30 Nov 2026 12:04:05 +0000\r
                Message-ID: <1abc.xyz@acme.example>\r
                MIME-Version: 1.0\r
                From: Ana Silva <ana@acme.example>\r
                To: bob@example.com\r
                Subject: Hello\r
                Content-Type: text/plain; charset=utf-8\r
                Content-Transfer-Encoding: 7bit\r
                \r
                Hi.\r

                """)
        #expect(m.messageID == "1abc.xyz@acme.example")
        #expect(m.envelopeFrom == "ana@acme.example")
        #expect(m.fromAddress == "ana@acme.example")
        #expect(m.recipients == ["bob@example.com"])
        #expect(!m.needsSMTPUTF8 && !m.has8BitData)
        #expect(m.subject == "Hello")
    }

    @Test("header order: Date, Message-ID, MIME-Version, From, To, Cc, Reply-To, Subject, extras, Content-*")
    func headerOrder() {
        let m = MessageComposer.compose(
            input(
                cc: ["c@example.com"], bcc: ["hidden@example.com"],
                headers: [HeaderField("X-B", "2"), HeaderField("In-Reply-To", "<x@y>"), HeaderField("X-A", "1")],
                replyTo: "help@acme.example"))
        #expect(
            SplitMessage(m.bytes).fields.map(\.name) == [
                "Date", "Message-ID", "MIME-Version", "From", "To", "Cc", "Reply-To", "Subject", "X-B", "In-Reply-To",
                "X-A",
                "Content-Type", "Content-Transfer-Encoding",
            ])
        #expect(!text(m.bytes).contains("hidden@example.com"))
        #expect(m.recipients == ["bob@example.com", "c@example.com", "hidden@example.com"])
    }

    @Test("Bcc only: no Bcc header, To says the recipients are undisclosed")
    func bccOnly() {
        let m = MessageComposer.compose(input(to: [], bcc: ["Secret Person <s@example.com>"]))
        let split = SplitMessage(m.bytes)
        #expect(split.value("To") == "undisclosed-recipients:;")
        #expect(split.values("Bcc").isEmpty && split.values("Cc").isEmpty)
        #expect(!text(m.bytes).contains("s@example.com") && !text(m.bytes).contains("Secret"))
        #expect(m.recipients == ["s@example.com"])
    }

    @Test("recipients: to + cc + bcc, duplicates removed regardless of case, order kept")
    func recipients() {
        let m = MessageComposer.compose(
            input(
                to: ["A@Example.com", "b@example.com"], cc: ["a@example.com", "c@example.com"],
                bcc: ["B@EXAMPLE.COM", "d@example.com"]))
        #expect(m.recipients == ["A@Example.com", "b@example.com", "c@example.com", "d@example.com"])
    }

    @Test("HTML only is text/html")
    func htmlOnly() {
        let m = MessageComposer.compose(input(text: nil, html: "<p>Olá</p>"))
        let split = SplitMessage(m.bytes)
        #expect(split.value("Content-Type") == "text/html; charset=utf-8")
        #expect(split.value("Content-Transfer-Encoding") == "quoted-printable")
        #expect(text(QuotedPrintable.decode(split.body)) == "<p>Olá</p>")
        // The soft line break after the last line keeps the decoded text exact.
        #expect(text(split.body) == "<p>Ol=C3=A1</p>=\r\n")
    }

    @Test("text and HTML: multipart/alternative, text first")
    func alternative() throws {
        let m = MessageComposer.compose(input(text: "Plain\n", html: "<p>Rich</p>\n"))
        let split = SplitMessage(m.bytes)
        let contentType = try #require(split.value("Content-Type"))
        #expect(contentType.hasPrefix("multipart/alternative; boundary=\"=_"))
        #expect(split.values("Content-Transfer-Encoding").isEmpty)
        let partsBoundary = try #require(boundary(of: contentType))
        let parts = try #require(multipartParts(split.body, boundary: partsBoundary))
        #expect(parts.count == 2)
        #expect(SplitMessage(parts[0]).value("Content-Type") == "text/plain; charset=utf-8")
        #expect(SplitMessage(parts[0]).body == Array("Plain\r\n".utf8))
        #expect(SplitMessage(parts[1]).value("Content-Type") == "text/html; charset=utf-8")
        #expect(SplitMessage(parts[1]).body == Array("<p>Rich</p>\r\n".utf8))
        #expect(m.bytes.suffix(2) == [0x0D, 0x0A])
    }

    @Test("attachments: multipart/mixed around the body, base64 at 76 columns, RFC 2231 names")
    func mixed() throws {
        let pdf = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let m = MessageComposer.compose(
            input(
                text: "See attached.\n", html: "<p>See attached.</p>",
                attachments: [
                    Attachment(filename: "relatório final.pdf", contentType: "application/pdf", data: pdf),
                    Attachment(filename: "notes.txt", contentType: "text/plain; charset=utf-8", data: []),
                ]))
        let split = SplitMessage(m.bytes)
        let top = try #require(split.value("Content-Type"))
        #expect(top.hasPrefix("multipart/mixed; boundary=\"=_"))
        let partsBoundary = try #require(boundary(of: top))
        let parts = try #require(multipartParts(split.body, boundary: partsBoundary))
        #expect(parts.count == 3)

        let body = SplitMessage(parts[0])
        let alternative = try #require(body.value("Content-Type"))
        #expect(alternative.hasPrefix("multipart/alternative; boundary=\"=_"))
        #expect(boundary(of: alternative) != boundary(of: top))
        let alternativeBoundary = try #require(boundary(of: alternative))
        #expect(multipartParts(body.body, boundary: alternativeBoundary)?.count == 2)

        let attachment = SplitMessage(parts[1])
        #expect(attachment.fields.map(\.name) == ["Content-Type", "Content-Disposition", "Content-Transfer-Encoding"])
        #expect(attachment.value("Content-Type") == "application/pdf; name*=utf-8''relat%C3%B3rio%20final.pdf")
        #expect(attachment.value("Content-Disposition") == "attachment; filename*=utf-8''relat%C3%B3rio%20final.pdf")
        #expect(attachment.value("Content-Transfer-Encoding") == "base64")
        let lines = crlfLines(attachment.body)
        #expect(lines.dropLast().allSatisfy { $0.count == 76 })
        #expect(Base64.decode(bytes: attachment.body) == pdf)

        let notes = SplitMessage(parts[2])
        #expect(notes.value("Content-Type") == "text/plain; charset=utf-8; name=\"notes.txt\"")
        #expect(notes.value("Content-Disposition") == "attachment; filename=\"notes.txt\"")
        #expect(notes.body.isEmpty)
    }

    @Test("text only with an attachment: multipart/mixed holds the text part directly")
    func textWithAttachment() throws {
        let m = MessageComposer.compose(
            input(attachments: [Attachment(filename: "a.bin", contentType: "application/octet-stream", data: [0, 1])]))
        let split = SplitMessage(m.bytes)
        let partsBoundary = try #require(boundary(of: split.value("Content-Type")!))
        let parts = try #require(multipartParts(split.body, boundary: partsBoundary))
        #expect(parts.count == 2)
        #expect(SplitMessage(parts[0]).value("Content-Type") == "text/plain; charset=utf-8")
        #expect(SplitMessage(parts[0]).body == Array("Hi.\r\n".utf8))
    }

    @Test(
        "7bit only for short printable ASCII lines without trailing white space or '=_'",
        arguments: [
            ("Short lines.\nAnd\ttabs.\n", "7bit"),
            (String(repeating: "x", count: 78) + "\n", "7bit"),
            (String(repeating: "x", count: 79) + "\n", "quoted-printable"),
            ("trailing space \nhere", "quoted-printable"),
            ("trailing space at the end ", "quoted-printable"),
            ("Olá", "quoted-printable"),
            ("bell\u{7}", "quoted-printable"),
            ("a =_ b", "quoted-printable"),
            ("a = b and a _ c", "7bit"),
        ]
    )
    func transferEncoding(body: String, expected: String) {
        let m = MessageComposer.compose(input(text: body))
        let split = SplitMessage(m.bytes)
        #expect(split.value("Content-Transfer-Encoding") == expected)
        let decoded = expected == "7bit" ? split.body : QuotedPrintable.decode(split.body)
        var wanted = normaliseLineEnds(Array(body.utf8))
        if expected == "7bit" && !wanted.isEmpty && wanted.suffix(2) != [0x0D, 0x0A] { wanted += [0x0D, 0x0A] }
        #expect(decoded == wanted)
    }

    @Test("lines that are '.' or start with '.' arrive unchanged (no dot-stuffing here)")
    func dots() throws {
        for body in [".\n..two dots\n.leading\n. \nend\n", "é\n.\n..x\n.y\n"] {
            let m = MessageComposer.compose(input(text: body))
            let split = SplitMessage(m.bytes)
            let decoded =
                split.value("Content-Transfer-Encoding") == "7bit" ? split.body : QuotedPrintable.decode(split.body)
            #expect(decoded == normaliseLineEnds(Array(body.utf8)))
            let lines = crlfLines(split.body).map { text($0) }
            #expect(lines.contains("."))
            #expect(!lines.contains { $0.hasPrefix("...") })
        }
    }

    @Test("CR, LF and CRLF in the input all become CRLF; no bare CR or LF anywhere")
    func lineEnds() {
        let m = MessageComposer.compose(input(text: "a\rb\nc\r\nd\n\re", html: "<p>\r</p>\n"))
        #expect(hasOnlyCRLF(m.bytes))
        #expect(text(m.bytes).contains("a\r\nb\r\nc\r\nd\r\n\r\ne"))
    }

    @Test("content that imitates the boundaries cannot end a part early")
    func boundaryCollision() throws {
        let probe = MessageComposer.compose(input(text: "x", html: "y"))
        let alt = try #require(boundary(of: SplitMessage(probe.bytes).value("Content-Type")!))
        let hostile = "before\n--\(alt)\nContent-Type: text/html\n\n<script>\n--\(alt)--\nafter\n"
        let m = MessageComposer.compose(input(text: hostile, html: "<p>ok</p>"))
        let split = SplitMessage(m.bytes)
        #expect(boundary(of: split.value("Content-Type")!) == alt)
        let parts = try #require(multipartParts(split.body, boundary: alt))
        #expect(parts.count == 2)
        let textPart = SplitMessage(parts[0])
        #expect(textPart.value("Content-Transfer-Encoding") == "quoted-printable")
        #expect(QuotedPrintable.decode(textPart.body) == normaliseLineEnds(Array(hostile.utf8)))
    }

    @Test("the output is ASCII unless an address is not; such addresses need SMTPUTF8")
    func eightBit() {
        let ascii = MessageComposer.compose(
            input(
                to: ["Zoë <z@example.com>"], subject: "Ünïcødé ✓", text: "çà\n", html: "<b>ü</b>",
                attachments: [Attachment(filename: "ñ.bin", contentType: "application/octet-stream", data: [0xFF])],
                headers: [HeaderField("X-Ç", "ç")]))
        #expect(ascii.bytes.allSatisfy { $0 < 0x80 })
        #expect(!ascii.has8BitData && !ascii.needsSMTPUTF8)

        let eai = MessageComposer.compose(input(to: ["José <josé@exemplo.br>"]))
        #expect(eai.needsSMTPUTF8 && eai.has8BitData)
        #expect(SplitMessage(eai.bytes).value("To") == "=?utf-8?b?Sm9zw6k=?= <josé@exemplo.br>")
        // An internationalised domain after an ASCII local part is written as A-labels: no SMTPUTF8 needed.
        let idn = MessageComposer.compose(input(to: ["jose@coração.com.br"], from: "Ana <ana@ação.example>"))
        #expect(!idn.needsSMTPUTF8 && !idn.has8BitData)
        #expect(idn.envelopeFrom == "ana@xn--ao-siap.example" && idn.recipients == ["jose@xn--corao-dra1a.com.br"])
        #expect(SplitMessage(idn.bytes).value("From") == "Ana <ana@xn--ao-siap.example>")
        #expect(SplitMessage(idn.bytes).value("To") == "jose@xn--corao-dra1a.com.br")
        #expect(!MessageComposer.compose(input(replyTo: "ajuda@ação.example")).needsSMTPUTF8)
        #expect(MessageComposer.compose(input(bcc: ["joão@ação.example"])).needsSMTPUTF8)
    }

    @Test("composing is a pure function of its input")
    func deterministic() {
        let a = input(text: "t", html: "h", attachments: [Attachment(filename: "f", contentType: "a/b", data: [1])])
        #expect(MessageComposer.compose(a) == MessageComposer.compose(a))
    }

    @Test("the input built from a validated message keeps its fields")
    func fromValidated() throws {
        var request = MessageRequest()
        request.to = ["bob@example.com"]
        request.bcc = ["hidden@example.com"]
        request.text = "hi"
        request.subject = "S"
        let validated = try MessageValidator.validate(request)
        let m = MessageComposer.compose(
            CompositionInput(
                validated, from: mailbox("D <d@acme.example>"), replyTo: nil, date: fixedDate, messageID: "i@d"))
        #expect(m.recipients == ["bob@example.com", "hidden@example.com"])
        #expect(m.envelopeFrom == "d@acme.example")
        #expect(SplitMessage(m.bytes).value("Message-ID") == "<i@d>")
    }
}
