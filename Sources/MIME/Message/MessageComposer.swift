import MailCore

/// Builds the RFC 5322 + MIME bytes of a message (SPEC §4, issue 4). Pure: the same input gives the same bytes.
///
/// The header section is Date, Message-ID, MIME-Version, From, To (or `undisclosed-recipients:;` when the message
/// has only Cc or Bcc recipients, RFC 5322 §A.1.3), Cc, Reply-To, Subject (always present; an empty subject is
/// written as `Subject: `, since a missing one looks like spam to filters), the extra headers in the order given,
/// then the body's Content-Type and Content-Transfer-Encoding. Bcc never appears. Non-ASCII text is written as
/// RFC 2047 encoded words, so the header section is ASCII, except a non-ASCII address, which RFC 6532 writes as
/// UTF-8 (encoded words are not allowed in an addr-spec, RFC 2047 §5) and which requires SMTPUTF8 anyway.
///
/// The body: text → text/plain, html → text/html, both → multipart/alternative (text first); with attachments,
/// multipart/mixed around that and one base64 part per attachment. See `TextBody` and `AttachmentBody`.
public enum MessageComposer {
    /// The message's bytes and envelope. Never fails: the input is expected to come from `MessageValidator`, and
    /// what would be invalid anyway (a line break in a value, a bad header name or media type) is neutralised
    /// rather than written, so no input can inject a header field or break the MIME structure.
    public static func compose(_ input: CompositionInput) -> ComposedMessage {
        // Internationalised domains with ASCII local parts go out as A-labels, in the headers and the
        // envelope alike: such mail then needs no SMTPUTF8.
        // Checked first: every enqueue composes, and almost every domain is ASCII (no arrays to copy).
        var input = input
        let idn = { (m: Mailbox) in !m.address.domain.utf8.allSatisfy { $0 < 0x80 } }
        if idn(input.from) || input.replyTo.map(idn) == true || input.to.contains(where: idn)
            || input.cc.contains(where: idn) || input.bcc.contains(where: idn)
        {
            input.from = input.from.withASCIIDomain
            input.replyTo = input.replyTo?.withASCIIDomain
            input.to = input.to.map(\.withASCIIDomain)
            input.cc = input.cc.map(\.withASCIIDomain)
            input.bcc = input.bcc.map(\.withASCIIDomain)
        }
        var capacity = 1024 + input.subject.utf8.count * 3
        capacity += (input.text?.utf8.count ?? 0) * 11 / 10 + (input.html?.utf8.count ?? 0) * 11 / 10
        for a in input.attachments { capacity += a.data.count * 139 / 100 + 512 }
        var w = HeaderWriter(capacity: capacity)

        w.field("Date", input.date.rfc5322)
        w.begin("Message-ID")
        w.appendWord(messageIDField(input.messageID))
        w.end()
        w.field("MIME-Version", "1.0")
        w.addressField("From", [input.from])
        if input.to.isEmpty && input.cc.isEmpty {
            // RFC 5322 §A.1.3: an empty group says that the recipients are not disclosed.
            w.field("To", "undisclosed-recipients:;")
        } else if !input.to.isEmpty {
            w.addressField("To", input.to)
        }
        if !input.cc.isEmpty { w.addressField("Cc", input.cc) }
        if let replyTo = input.replyTo { w.addressField("Reply-To", [replyTo]) }
        w.textField("Subject", input.subject)
        for header in input.headers {
            // Names are checked by MessageValidator; what is not ftext is dropped here all the same, so that no
            // input can put a line break, a colon or 8-bit bytes in the name.
            let name = String(decoding: header.name.utf8.filter { ASCII.isVisible($0) && $0 != 0x3A }, as: UTF8.self)
            if !name.isEmpty { w.textField(name, header.value, structured: ExtraHeaderPolicy.isStructured(name)) }
        }
        let headerEnd = w.bytes.count

        let token = boundaryToken(input.messageID)
        if input.attachments.isEmpty {
            let quotedPrintable = writeBodyEntity(input, token: token, into: &w)
            // The last line of a single-part body gets its CRLF; for quoted-printable a soft line break, so that
            // the decoded text ends exactly as given.
            if !w.bytes.endsWithCRLF {
                if quotedPrintable { w.bytes.append(ASCII.equals) }
                w.bytes.appendCRLF()
            }
        } else {
            var parts: [(inout HeaderWriter) -> Void] = [{ _ = writeBodyEntity(input, token: token, into: &$0) }]
            for attachment in input.attachments {
                parts.append { AttachmentBody.write(attachment, into: &$0) }
            }
            Multipart.write(subtype: "mixed", boundary: Multipart.boundary("mixed", token), parts: parts, into: &w)
            w.bytes.appendCRLF()
        }

        let envelope = [input.from] + input.to + input.cc + input.bcc
        let needsSMTPUTF8 = (envelope + (input.replyTo.map { [$0] } ?? [])).contains { $0.address.needsSMTPUTF8 }
        // The bodies are 7bit, quoted-printable or base64, all ASCII by construction: only headers can have 8 bits.
        let has8BitData = !w.bytes[..<headerEnd].isASCII
        return ComposedMessage(
            bytes: w.bytes, messageID: input.messageID, envelopeFrom: input.from.address.string,
            recipients: uniqueRecipients(input.to + input.cc + input.bcc), needsSMTPUTF8: needsSMTPUTF8,
            has8BitData: has8BitData, subject: input.subject, fromAddress: input.from.address.string
        )
    }

    /// Writes the text and/or HTML entity; returns whether it is a single quoted-printable part.
    private static func writeBodyEntity(_ input: CompositionInput, token: String, into w: inout HeaderWriter) -> Bool {
        switch (input.text, input.html) {
        case (let text?, let html?):
            Multipart.write(
                subtype: "alternative", boundary: Multipart.boundary("alt", token),
                parts: [
                    { _ = TextBody.write(text, subtype: "plain", into: &$0) },
                    { _ = TextBody.write(html, subtype: "html", into: &$0) },
                ],
                into: &w
            )
            return false
        case (nil, let html?):
            return TextBody.write(html, subtype: "html", into: &w)
        case (let text?, nil):
            return TextBody.write(text, subtype: "plain", into: &w)
        case (nil, nil):
            // Refused by MessageValidator; an empty text part keeps the message well-formed regardless.
            return TextBody.write("", subtype: "plain", into: &w)
        }
    }

    /// `<id>`, keeping only what RFC 5322 §3.6.4 allows in a msg-id (printable ASCII without "<", ">" or space).
    static func messageIDField(_ id: String) -> [UInt8] {
        var out: [UInt8] = [0x3C]
        out.reserveCapacity(id.utf8.count + 2)
        out.append(id, keeping: { ASCII.isVisible($0) && $0 != 0x3C && $0 != 0x3E })
        out.append(0x3E)
        return out
    }

    /// A per-message token for the boundaries. Uniqueness is not what keeps boundaries safe (see `Multipart`); it
    /// only keeps the boundaries of different messages apart. FNV-1a, so composing stays a pure function.
    static func boundaryToken(_ messageID: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in messageID.utf8 {
            hash ^= UInt64(b)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Addr-specs in order, each once; compared case-insensitively, as providers treat them.
    static func uniqueRecipients(_ mailboxes: [Mailbox]) -> [String] {
        var seen: Set<String> = []
        var result: [String] = []
        result.reserveCapacity(mailboxes.count)
        for m in mailboxes {
            let address = m.address.string
            if seen.insert(address.lowercased()).inserted { result.append(address) }
        }
        return result
    }
}
