import Foundation
import MIME
import MailCore
import Testing

/// Hands a rich composed message to an independent parser — Python's standard `email` package with its modern
/// policy — and compares what it reads with what went in.
@Suite("Independent parser: Python's email package")
struct PythonEmailParserTests {
    static let script = #"""
        import base64, hashlib, json, sys
        from email import message_from_bytes, policy

        data = open(sys.argv[1], "rb").read()
        msg = message_from_bytes(data, policy=policy.default)

        def addresses(name):
            header = msg[name]
            return None if header is None else [[a.display_name, a.addr_spec] for a in header.addresses]

        def part_info(part):
            return {
                "content_type": part.get_content_type(),
                "cte": part.get("Content-Transfer-Encoding"),
                "bytes": base64.b64encode(part.get_payload(decode=True)).decode(),
                "content": part.get_content(),
            }

        attachments = []
        for a in msg.iter_attachments():
            payload = a.get_payload(decode=True)
            attachments.append({
                "filename": a.get_filename(),
                "content_type": a.get_content_type(),
                "disposition": a.get_content_disposition(),
                "sha256": hashlib.sha256(payload).hexdigest(),
                "length": len(payload),
            })
        lines = data.split(b"\r\n")
        print(json.dumps({
            "names": list(msg.keys()),
            "values": {k: str(v) for k, v in msg.items()},
            "from": addresses("From"), "to": addresses("To"), "cc": addresses("Cc"), "reply_to": addresses("Reply-To"),
            "bcc": msg.get_all("Bcc"),
            "structure": [p.get_content_type() for p in msg.walk()],
            "defects": [[p.get_content_type(), [type(d).__name__ for d in p.defects]] for p in msg.walk()],
            "text": part_info(msg.get_body(preferencelist=("plain",))),
            "html": part_info(msg.get_body(preferencelist=("html",))),
            "attachments": attachments,
            "expected_sha256": hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest(),
            "longest_line": max(len(l) for l in lines),
            "bare_line_breaks": data.count(b"\n") != data.count(b"\r\n") or data.count(b"\r") != data.count(b"\r\n"),
            "ascii": all(b < 0x80 for b in data),
        }))
        """#

    /// Runs the script on `message`; nil (with the reason recorded) when python3 is not there.
    func parse(_ message: [UInt8], attachment: [UInt8]) throws -> [String: Any] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maild-mime-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let messageURL = directory.appendingPathComponent("message.eml")
        let attachmentURL = directory.appendingPathComponent("attachment.bin")
        try Data(message).write(to: messageURL)
        try Data(attachment).write(to: attachmentURL)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, messageURL.path, attachmentURL.path]
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read before waiting: the JSON is larger than a pipe buffer.
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0, "python3 failed: \(String(decoding: errors, as: UTF8.self))")
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
    }

    @Test("a rich Portuguese message reads back intact")
    func richMessage() throws {
        let longLine = String(String(repeating: "açúcar, café e pão de queijo; ", count: 80).prefix(2000))
        let text =
            "Olá João,\n.\n..dois pontos\n.começa com ponto\n\(longLine)\nFrom the start\n"
            + "espaço no fim \n\ttab\nfim\n"
        let html = "<html><body><p>Olá <b>João</b></p>\n<p>.</p>\n.\n<p>\(longLine)</p></body></html>\n"
        var rng = SplitMix64(seed: 300)
        let pdf = (0..<(300 * 1024)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let subject =
            "Solicitação nº 4512 aprovada — relatório final de ações e conclusões do exercício de 2026 "
            + "(versão revisada, com observações)"
        let headers = [
            HeaderField("X-Request-Id", "abc-123"),
            HeaderField("X-Categoria", "Notificação automática"),
            HeaderField("References", "<a1@acme.example> <b2@acme.example>"),
            HeaderField("List-Unsubscribe", "<https://acme.example/unsubscribe?u=123>, <mailto:unsub@acme.example>"),
        ]
        let input = CompositionInput(
            from: mailbox("João Conceição <joao@acme.example>"),
            replyTo: mailbox("Suporte Técnico <suporte@acme.example>"),
            to: [
                mailbox("Ana Conceição <ana@example.com>"), mailbox("\"Silva, Bruno\" <bruno@example.org>"),
                mailbox("plain@example.net"),
            ],
            cc: [mailbox("Cláudia Gonçalves <claudia@example.com>")],
            bcc: [mailbox("Escondido <hidden@example.com>")],
            subject: subject, text: text, html: html,
            attachments: [Attachment(filename: "relatório final.pdf", contentType: "application/pdf", data: pdf)],
            headers: headers, date: fixedDate, messageID: "mx1.abcdefghijklmnopqrstuvwxyz@acme.example"
        )
        let composed = MessageComposer.compose(input)
        #expect(
            composed.recipients
                == [
                    "ana@example.com", "bruno@example.org", "plain@example.net", "claudia@example.com",
                    "hidden@example.com",
                ])

        let parsed = try parse(composed.bytes, attachment: pdf)

        // Every header field, in order, with its decoded value.
        #expect(
            parsed["names"] as? [String] == [
                "Date", "Message-ID", "MIME-Version", "From", "To", "Cc", "Reply-To", "Subject", "X-Request-Id",
                "X-Categoria", "References", "List-Unsubscribe", "Content-Type",
            ])
        let values = try #require(parsed["values"] as? [String: String])
        #expect(values["Date"] == "Mon, 30 Nov 2026 12:04:05 +0000")
        #expect(values["Message-ID"] == "<mx1.abcdefghijklmnopqrstuvwxyz@acme.example>")
        #expect(values["MIME-Version"] == "1.0")
        #expect(values["Subject"] == subject)
        #expect(values["X-Request-Id"] == "abc-123")
        #expect(values["X-Categoria"] == "Notificação automática")
        #expect(values["References"] == "<a1@acme.example> <b2@acme.example>")
        #expect(values["List-Unsubscribe"] == "<https://acme.example/unsubscribe?u=123>, <mailto:unsub@acme.example>")
        #expect(parsed["from"] as? [[String]] == [["João Conceição", "joao@acme.example"]])
        #expect(
            parsed["to"] as? [[String]] == [
                ["Ana Conceição", "ana@example.com"], ["Silva, Bruno", "bruno@example.org"], ["", "plain@example.net"],
            ])
        #expect(parsed["cc"] as? [[String]] == [["Cláudia Gonçalves", "claudia@example.com"]])
        #expect(parsed["reply_to"] as? [[String]] == [["Suporte Técnico", "suporte@acme.example"]])
        #expect(parsed["bcc"] is NSNull)
        #expect(!String(decoding: composed.bytes, as: UTF8.self).contains("hidden@example.com"))

        // Structure, and no defects found by the parser anywhere.
        #expect(
            parsed["structure"] as? [String] == [
                "multipart/mixed", "multipart/alternative", "text/plain", "text/html", "application/pdf",
            ])
        let defects = try #require(parsed["defects"] as? [[Any]])
        #expect(defects.allSatisfy { ($0[1] as? [String])?.isEmpty == true }, "\(defects)")

        // Both bodies, byte for byte (line ends are CRLF by design), and as text.
        let textPart = try #require(parsed["text"] as? [String: Any])
        let htmlPart = try #require(parsed["html"] as? [String: Any])
        #expect(Base64.decode(try #require(textPart["bytes"] as? String)) == normaliseLineEnds(Array(text.utf8)))
        #expect(Base64.decode(try #require(htmlPart["bytes"] as? String)) == normaliseLineEnds(Array(html.utf8)))
        #expect((textPart["content"] as? String)?.replacingOccurrences(of: "\r\n", with: "\n") == text)
        #expect((htmlPart["content"] as? String)?.replacingOccurrences(of: "\r\n", with: "\n") == html)

        // The attachment: name, type and bytes.
        let attachments = try #require(parsed["attachments"] as? [[String: Any]])
        #expect(attachments.count == 1)
        #expect(attachments.first?["filename"] as? String == "relatório final.pdf")
        #expect(attachments.first?["content_type"] as? String == "application/pdf")
        #expect(attachments.first?["disposition"] as? String == "attachment")
        #expect(attachments.first?["length"] as? Int == pdf.count)
        #expect(attachments.first?["sha256"] as? String == parsed["expected_sha256"] as? String)

        // Transport limits.
        #expect((parsed["longest_line"] as? Int ?? 999) <= 998)
        #expect(parsed["bare_line_breaks"] as? Bool == false)
        #expect(parsed["ascii"] as? Bool == true)
        let headerLines = crlfLines(composed.bytes).prefix { !$0.isEmpty }
        #expect(headerLines.allSatisfy { $0.count <= 78 })
    }
}
