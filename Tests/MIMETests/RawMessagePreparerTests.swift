import MIME
import MailCore
import Testing

@Suite("Ready-made messages (SPEC §3)")
struct RawMessagePreparerTests {
    func prepare(
        _ raw: String, recipients: [String] = ["bob@example.com"], from: String? = nil
    ) throws(ProtocolError) -> ComposedMessage {
        try RawMessagePreparer.prepare(
            RawMessageRequest(company: nil, raw: Array(raw.utf8), recipients: recipients, from: from),
            date: fixedDate, messageIDDomain: "host.example")
    }

    func refusal(_ raw: String, recipients: [String] = ["bob@example.com"], from: String? = nil) -> String? {
        do {
            _ = try prepare(raw, recipients: recipients, from: from)
            return nil
        } catch {
            #expect(error.code == .invalidMessage)
            return error.message
        }
    }

    @Test("line ends become CRLF; Date and Message-ID are added at the end of the header section")
    func normalise() throws {
        let m = try prepare("From: Ana <ana@acme.example>\nSubject: Hi\n\nline 1\rline 2\r\nline 3")
        let lines = crlfLines(m.bytes).map { text($0) }
        #expect(
            lines == [
                "From: Ana <ana@acme.example>", "Subject: Hi", "Date: Mon, 30 Nov 2026 12:04:05 +0000",
                "Message-ID: <\(m.messageID)>", "", "line 1", "line 2", "line 3",
            ])
        #expect(hasOnlyCRLF(m.bytes) && m.bytes.suffix(2) == [0x0D, 0x0A])
        #expect(m.messageID.hasSuffix("@host.example"))
        #expect(m.envelopeFrom == "ana@acme.example" && m.fromAddress == "ana@acme.example")
        #expect(m.recipients == ["bob@example.com"])
        #expect(m.subject == "Hi")
        #expect(!m.needsSMTPUTF8 && !m.has8BitData)
    }

    @Test("existing Date and Message-ID are kept, and the id is read from the header")
    func keepsExisting() throws {
        let raw =
            "Date: Tue, 1 Dec 2026 00:00:00 -0300\r\nMessage-ID: (comment) <own.id@acme.example> \r\n"
            + "From: a@acme.example\r\n\r\nbody\r\n"
        let m = try prepare(raw)
        #expect(text(m.bytes) == raw)
        #expect(m.messageID == "own.id@acme.example")
    }

    @Test("a Message-ID field without an id is replaced by a new one, not kept beside it", arguments: [
        "Message-ID: <>", "Message-ID:", "Message-ID: (none)", "Message-ID:  \r\n \t",
    ])
    func replacesAnEmptyMessageID(_ field: String) throws {
        let m = try prepare("From: a@acme.example\r\n\(field)\r\nSubject: s\r\n\r\nbody\r\n")
        let lines = crlfLines(m.bytes).map { text($0) }
        #expect(m.messageID.hasSuffix("@host.example"))
        #expect(lines.filter { $0.lowercased().hasPrefix("message-id:") } == ["Message-ID: <\(m.messageID)>"])
        #expect(lines.prefix(2) == ["From: a@acme.example", "Subject: s"])
    }

    @Test("UTF-8 in the header section asks for SMTPUTF8 where offered; in the body it does not")
    func utf8HeadersPreferSMTPUTF8() throws {
        let headers = try prepare("From: José <a@acme.example>\r\nSubject: Ação\r\n\r\nbody\r\n")
        #expect(headers.prefersSMTPUTF8 && !headers.needsSMTPUTF8 && headers.has8BitData)
        let body = try prepare("From: a@acme.example\r\nSubject: s\r\n\r\nAção\r\n")
        #expect(!body.prefersSMTPUTF8 && body.has8BitData)
        let ascii = try prepare("From: a@acme.example\r\n\r\nbody\r\n")
        #expect(!ascii.prefersSMTPUTF8 && !ascii.has8BitData)
    }

    @Test("every Bcc and Resent-Bcc field goes, continuation lines included; nothing else changes")
    func bcc() throws {
        let raw =
            "From: a@acme.example\r\nBcc: hidden@example.com,\r\n  other@example.com\r\nTo: bob@example.com\r\n"
            + "bcc: third@example.com\r\nResent-Bcc: r@example.com\r\nX-Keep: Bcc: stays\r\n\r\nBcc: in the body\r\n"
        let m = try prepare(raw, recipients: ["bob@example.com", "hidden@example.com"])
        let output = text(m.bytes)
        #expect(!output.contains("hidden") && !output.contains("other@") && !output.contains("third@"))
        #expect(!output.contains("r@example.com"))
        #expect(output.contains("X-Keep: Bcc: stays\r\n") && output.hasSuffix("\r\n\r\nBcc: in the body\r\n"))
        #expect(SplitMessage(m.bytes).fields.map(\.name) == ["From", "To", "X-Keep", "Date", "Message-ID"])
        #expect(m.recipients == ["bob@example.com", "hidden@example.com"])
    }

    @Test("nothing is re-encoded: 8-bit headers and bodies pass as they are")
    func noReencoding() throws {
        let raw = "From: João <joao@acme.example>\r\nSubject: Olá\r\nX-Long: a\r\n\tb\r\n\r\nCorpo em 8 bits: ação\r\n"
        let m = try prepare(raw)
        #expect(text(m.bytes).hasPrefix("From: João <joao@acme.example>\r\nSubject: Olá\r\nX-Long: a\r\n\tb\r\n"))
        #expect(text(m.bytes).hasSuffix("\r\n\r\nCorpo em 8 bits: ação\r\n"))
        #expect(m.has8BitData && !m.needsSMTPUTF8)
        #expect(m.subject == "Olá")
    }

    @Test("a message of headers only is fine")
    func headersOnly() throws {
        let m = try prepare("From: a@acme.example\nSubject: =?utf-8?q?Ol=C3=A1?=\n =?utf-8?q?_mundo?=")
        #expect(text(m.bytes).hasSuffix("Message-ID: <\(m.messageID)>\r\n\r\n"))
        #expect(m.subject == "Olá mundo")
    }

    @Test("a leading mbox From line is dropped; obsolete white space before a colon is accepted")
    func mbox() throws {
        let m = try prepare(
            "From sender@acme.example Mon Nov 30 12:00:00 2026\nFrom: a@acme.example\nSubject : x\n\nb\n")
        #expect(text(m.bytes).hasPrefix("From: a@acme.example\r\nSubject : x\r\n"))
    }

    @Test("the envelope sender: `from`, else the From header's address, comments and encoded names allowed")
    func envelopeSender() throws {
        #expect(
            try prepare("From: a@acme.example\n\nx", from: "<bounce@acme.example>").envelopeFrom
                == "bounce@acme.example")
        #expect(try prepare("From: a@acme.example\n\nx", from: "bounce@acme.example").fromAddress == "a@acme.example")
        #expect(try prepare("From: root@host.example (Cron Daemon)\n\nx").envelopeFrom == "root@host.example")
        #expect(try prepare("From: =?utf-8?q?Jo=C3=A3o?= <j@acme.example>\n\nx").envelopeFrom == "j@acme.example")
        #expect(
            try prepare("From: \"Silva, Ana\" <ana@acme.example>, b@acme.example\n\nx").envelopeFrom
                == "ana@acme.example")
        #expect(
            try prepare("From: root (Cron Daemon)\n\nx", from: "root@host.example").fromAddress == "root@host.example")
        #expect(try prepare("Subject: x\n\nx", recipients: ["josé@exemplo.br"], from: "a@b.example").needsSMTPUTF8)
        let idn = try prepare("Subject: x\n\nx", recipients: ["jose@coração.com.br"], from: "ana@ação.example")
        #expect(!idn.needsSMTPUTF8 && idn.envelopeFrom == "ana@xn--ao-siap.example")
        #expect(idn.recipients == ["jose@xn--corao-dra1a.com.br"])
    }

    @Test("recipients: parsed, duplicates removed, order kept")
    func recipients() throws {
        let m = try prepare(
            "From: a@acme.example\n\nx", recipients: ["Bob <bob@example.com>", "<c@example.com>", "BOB@example.com"])
        #expect(m.recipients == ["bob@example.com", "c@example.com"])
    }

    @Test(
        "refusals name what is wrong",
        arguments: [
            (
                "From: a@acme.example\nno colon here\n\nx",
                "message.raw: header line 2 has no ':' (a blank line must end the header section)"
            ),
            (
                "From: a@acme.example\nBad Name: x\n\nx",
                "message.raw: header line 2 has an invalid field name (RFC 5322 §3.6.8)"
            ),
            (
                ": x\nFrom: a@acme.example\n\nx",
                "message.raw: header line 1 has an invalid field name (RFC 5322 §3.6.8)"
            ),
            (
                " folded: x\nFrom: a@acme.example\n\nx",
                "message.raw: header line 1 starts with white space but follows no field"
            ),
            ("", "message.raw: is empty"),
            ("Subject: x\n\nbody", "message: no envelope sender; give message.from or a From header"),
            (
                "From: root (Cron Daemon)\n\nbody",
                "message.from is not given and the From header is not usable: 'root' has no '@'"
            ),
            ("From: \n\nbody", "message.from is not given and the From header is not usable: it is empty"),
        ]
    )
    func refusals(raw: String, message: String) {
        #expect(refusal(raw) == message)
    }

    @Test("lines over 998 octets are refused, in the header or the body; 998 is fine")
    func longLines() {
        let ok = String(repeating: "x", count: 998)
        #expect(refusal("From: a@acme.example\n\n\(ok)\n") == nil)
        #expect(refusal("From: a@acme.example\n\nshort\n\(ok)x\n") == "message.raw: line 4 is longer than 998 octets")
        #expect(refusal("X-Long: \(ok)\nFrom: a@acme.example\n\nx") == "message.raw: line 1 is longer than 998 octets")
    }

    @Test("recipient and sender addresses are checked")
    func addresses() {
        #expect(refusal("From: a@acme.example\n\nx", recipients: []) == "message.recipients: no recipient")
        #expect(
            refusal("From: a@acme.example\n\nx", recipients: ["ok@example.com", "bob@"])
                == "message.recipients[1]: 'bob@' has an empty domain")
        #expect(refusal("From: a@acme.example\n\nx", from: "nope") == "message.from: 'nope' has no '@'")
    }
}
