import MailCore

/// Takes a ready-made message (what `sendmail` hands over, SPEC §3) into the outbox.
public enum RawMessagePreparer {
    /// RFC 5322 §2.1.1: a line is at most 998 octets, CRLF excluded.
    public static let maximumLineLength = 998

    /// SPEC §3 "ready-made message": normalises line ends to CRLF (a lone CR or LF included, and a CRLF is added
    /// after a last line that lacks one), adds Date and Message-ID at the end of the header section when missing
    /// (a Message-ID field that holds no id is replaced),
    /// removes every Bcc and Resent-Bcc field (continuation lines included), drops a leading mbox `From ` line,
    /// and re-encodes nothing else.
    ///
    /// Refuses (ProtocolError .invalidMessage) a header section that does not parse (a line without a colon, a
    /// bad field name, a continuation line first; no blank line is fine and means headers only), a line over 998
    /// octets, no recipients, a bad recipient or envelope sender address. The envelope sender is `from`, else the
    /// From header's (first) address; one of the two must exist. Recipients may be written `a@b`, `<a@b>` or
    /// `Name <a@b>`. `needsSMTPUTF8` reflects the envelope only; 8-bit header or body bytes show in `has8BitData`.
    public static func prepare(
        _ raw: RawMessageRequest, date: Timestamp, messageIDDomain: String
    ) throws(ProtocolError) -> ComposedMessage {
        var recipients: [Mailbox] = []
        for (i, text) in raw.recipients.enumerated() {
            do {
                // The envelope's internationalised domains as A-labels; the message itself is not re-encoded.
                recipients.append(try Mailbox.parse(text).withASCIIDomain)
            } catch {
                throw .invalidMessage("message.recipients[\(i)]: \(error.reason)")
            }
        }
        guard !recipients.isEmpty else { throw .invalidMessage("message.recipients: no recipient") }

        let (bytes, longLine) = normaliseLineEnds(raw.raw)
        if let longLine {
            throw .invalidMessage("message.raw: line \(longLine) is longer than \(maximumLineLength) octets")
        }
        guard !bytes.isEmpty else { throw .invalidMessage("message.raw: is empty") }
        let headerStart = mboxFromLineEnd(bytes)
        let header: RawHeaderSection
        do {
            header = try RawHeaderSection.parse(bytes, from: headerStart)
        } catch {
            throw .invalidMessage("message.raw: \(error.message)")
        }

        // The From header's address, when it has a usable one.
        var fromHeaderAddress: Result<EmailAddress, AddressError>?
        if let field = header.first("from") {
            let value = removingComments(RawHeaderSection.value(of: field, in: bytes))
            fromHeaderAddress = Result { () throws(AddressError) in
                guard let first = try Mailbox.parseList(value).first else { throw AddressError(reason: "it is empty") }
                return first.address
            }
        }
        let sender: EmailAddress
        if let from = raw.from {
            do {
                sender = try Mailbox.parse(from).address
            } catch {
                throw .invalidMessage("message.from: \(error.reason)")
            }
        } else {
            switch fromHeaderAddress {
            case .success(let address)?: sender = address
            case .failure(let error)?:
                throw .invalidMessage("message.from is not given and the From header is not usable: \(error.reason)")
            case nil: throw .invalidMessage("message: no envelope sender; give message.from or a From header")
            }
        }
        let envelopeFrom = sender.withASCIIDomain

        var messageID: String
        if let field = header.first("message-id") {
            messageID = extractMessageID(RawHeaderSection.value(of: field, in: bytes))
        } else {
            messageID = ""
        }
        // A Message-ID field without an id (`<>`, blank) is replaced, not kept beside the new one: a message
        // has at most one (RFC 5322 §3.6).
        let addMessageID = messageID.isEmpty
        if addMessageID { messageID = MessageIDGenerator.generate(domain: messageIDDomain) }
        func kept(_ name: String) -> Bool {
            name != "bcc" && name != "resent-bcc" && !(addMessageID && name == "message-id")
        }

        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 128)
        for field in header.fields where kept(field.lowercasedName) {
            out.append(contentsOf: bytes[field.range])
        }
        if header.first("date") == nil { out.append("Date: \(date.rfc5322)\r\n") }
        if addMessageID { out.append("Message-ID: <\(messageID)>\r\n") }
        out.appendCRLF()
        out.append(contentsOf: bytes[header.bodyStart...])

        let subject = header.first("subject").map { EncodedWords.decode(RawHeaderSection.value(of: $0, in: bytes)) }
        let fromAddress = (try? fromHeaderAddress?.get())?.string ?? envelopeFrom.string
        var message = ComposedMessage(
            bytes: out, messageID: messageID, envelopeFrom: envelopeFrom.string,
            recipients: MessageComposer.uniqueRecipients(recipients),
            needsSMTPUTF8: envelopeFrom.needsSMTPUTF8 || recipients.contains { $0.address.needsSMTPUTF8 },
            has8BitData: !out.isASCII, subject: subject ?? "", fromAddress: fromAddress
        )
        message.prefersSMTPUTF8 = message.has8BitData && !bytes[headerStart..<header.bodyStart].isASCII
        return message
    }

    /// The bytes with every CR, LF and CRLF as CRLF and a CRLF after the last line; and the number of the first
    /// line over 998 octets, if any.
    static func normaliseLineEnds(_ raw: [UInt8]) -> (bytes: [UInt8], longLine: Int?) {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count + raw.count / 32 + 2)
        var lineLength = 0
        var line = 1
        var longLine: Int?
        var i = 0
        while i < raw.count {
            let b = raw[i]
            if b == ASCII.cr || b == ASCII.lf {
                out.appendCRLF()
                lineLength = 0
                line += 1
                i += (b == ASCII.cr && i + 1 < raw.count && raw[i + 1] == ASCII.lf) ? 2 : 1
                continue
            }
            out.append(b)
            lineLength += 1
            if lineLength > maximumLineLength && longLine == nil { longLine = line }
            i += 1
        }
        if !out.isEmpty && !out.endsWithCRLF { out.appendCRLF() }
        return (out, longLine)
    }

    /// Where the message starts after an mbox "From sender date" line (not a header field: it has no colon
    /// before its first space), which some programs put first; 0 when there is none.
    static func mboxFromLineEnd(_ bytes: [UInt8]) -> Int {
        let prefix = Array("From ".utf8)
        guard bytes.count > prefix.count, bytes[..<prefix.count].elementsEqual(prefix),
            let cr = bytes.firstIndex(of: ASCII.cr)
        else { return 0 }
        return cr + 2
    }

    /// The id inside `<…>`, comments removed; the trimmed text when there are no angle brackets.
    static func extractMessageID(_ value: String) -> String {
        let text = removingComments(value).trimmingSpaces
        let scalars = text.unicodeScalars
        if let open = scalars.firstIndex(of: "<"), let close = scalars[open...].firstIndex(of: ">") {
            return String(scalars[scalars.index(after: open)..<close]).trimmingSpaces
        }
        return text
    }
}
