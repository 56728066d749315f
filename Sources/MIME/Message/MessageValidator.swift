import MailCore

/// Checks an `enqueue` message object (SPEC §3, issue 4) before anything is stored.
public enum MessageValidator {
    /// Checks `request` and returns it with its addresses parsed.
    ///
    /// Throws ProtocolError with code .invalidMessage and a message naming the field, e.g.
    /// "message.to[1]: 'bob@' has an empty domain". Refused: an address that does not parse (`from`, `reply_to`,
    /// `to[i]`, `cc[i]`, `bcc[i]`; one mailbox per entry); no recipient at all; neither `text` nor `html` (an
    /// empty string counts as absent); CR, LF or another control character (TAB aside) in the subject, a header
    /// name or value, or a file name; a header `ExtraHeaderPolicy` does not allow, or one given twice; an empty
    /// file name; a `content_type` that is not `type/subtype` with optional parameters, or is multipart/* or
    /// message/* (those may not be base64-encoded, RFC 2046 §5.1.1 and §5.2.1).
    public static func validate(_ request: MessageRequest) throws(ProtocolError) -> ValidatedMessage {
        let from = try request.from.map { text throws(ProtocolError) in try mailbox(text, field: "message.from") }
        let replyTo = try request.replyTo.map { text throws(ProtocolError) in
            try mailbox(text, field: "message.reply_to")
        }
        let to = try mailboxes(request.to, field: "message.to")
        let cc = try mailboxes(request.cc, field: "message.cc")
        let bcc = try mailboxes(request.bcc, field: "message.bcc")
        guard !(to.isEmpty && cc.isEmpty && bcc.isEmpty) else {
            throw .invalidMessage("message: no recipient; give at least one address in to, cc or bcc")
        }
        let text = request.text.flatMap { $0.isEmpty ? nil : $0 }
        let html = request.html.flatMap { $0.isEmpty ? nil : $0 }
        guard text != nil || html != nil else { throw .invalidMessage("message: no body; give text, html or both") }
        let subject = request.subject ?? ""
        try checkHeaderText(subject, field: "message.subject")

        var headers: [HeaderField] = []
        var seen: Set<String> = []
        for header in request.headers {
            let field = "message.headers.\(header.name.debugEscapedForMessage)"
            if let reason = ExtraHeaderPolicy.refusal(forName: header.name) {
                throw .invalidMessage("\(field): \(reason)")
            }
            guard seen.insert(ASCII.lowercased(header.name)).inserted else {
                throw .invalidMessage("\(field): given twice (header names are case-insensitive)")
            }
            try checkHeaderText(header.value, field: field)
            if ExtraHeaderPolicy.isStructured(header.name) {
                let utf8 = Array(header.value.utf8)
                guard utf8.allSatisfy({ $0 < 0x80 }) else {
                    throw .invalidMessage("\(field): must be ASCII (it is a structured field; encode URLs and ids)")
                }
                guard HeaderWriter.foldsWithinHardLimit(utf8, prefix: header.name.utf8.count + 1) else {
                    throw .invalidMessage("\(field): has a word too long for a header line (998 octets)")
                }
            }
            headers.append(header)
        }

        var attachments: [Attachment] = []
        for (i, attachment) in request.attachments.enumerated() {
            attachments.append(try checkAttachment(attachment, field: "message.attachments[\(i)]"))
        }
        return ValidatedMessage(
            company: request.company, kind: request.kind, from: from, to: to, cc: cc, bcc: bcc, replyTo: replyTo,
            subject: subject, text: text, html: html, attachments: attachments, headers: headers
        )
    }

    private static func mailbox(_ text: String, field: String) throws(ProtocolError) -> Mailbox {
        do {
            return try Mailbox.parse(text)
        } catch {
            throw .invalidMessage("\(field): \(error.reason)")
        }
    }

    private static func mailboxes(_ texts: [String], field: String) throws(ProtocolError) -> [Mailbox] {
        var result: [Mailbox] = []
        result.reserveCapacity(texts.count)
        for (i, text) in texts.enumerated() {
            result.append(try mailbox(text, field: "\(field)[\(i)]"))
        }
        return result
    }

    /// CR and LF would end the header line and let the rest be read as new fields (header injection); other
    /// controls are not text (RFC 5322 §3.2.5 allows VCHAR and WSP) and NUL breaks many MTAs.
    private static func checkHeaderText(_ text: String, field: String) throws(ProtocolError) {
        for b in text.utf8 where b < 0x20 && b != ASCII.tab || b == 0x7F {
            if ASCII.isLineBreak(b) { throw .invalidMessage("\(field): contains a line break (CR or LF)") }
            throw .invalidMessage("\(field): contains a control character")
        }
    }

    private static func checkAttachment(_ attachment: Attachment, field: String) throws(ProtocolError) -> Attachment {
        guard !attachment.filename.trimmingSpaces.isEmpty else { throw .invalidMessage("\(field).filename: is empty") }
        try checkHeaderText(attachment.filename, field: "\(field).filename")
        let type: MediaType
        switch MediaType.parse(attachment.contentType) {
        case .success(let t): type = t
        case .failure(let error):
            let what = error == .badParameter ? "has a malformed parameter" : "is not a type/subtype media type"
            throw .invalidMessage("\(field).content_type: '\(attachment.contentType.debugEscapedForMessage)' \(what)")
        }
        if type.type == "multipart" || type.type == "message" {
            throw .invalidMessage(
                "\(field).content_type: \(type.essence) cannot be sent base64-encoded (RFC 2046); "
                    + "use application/octet-stream")
        }
        var checked = attachment
        checked.contentType = ([type.essence] + type.parameterStrings(excluding: "name"))
            .joined(separator: "; ")
        return checked
    }
}

extension String {
    /// The text with CR, LF and other controls shown as escapes, so an error message stays on one line.
    var debugEscapedForMessage: String {
        guard utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return self }
        var out = ""
        for s in unicodeScalars {
            switch s.value {
            case 0x0D: out += "\\r"
            case 0x0A: out += "\\n"
            case 0..<0x20, 0x7F: out += "\\u{\(String(s.value, radix: 16))}"
            default: out.unicodeScalars.append(s)
            }
        }
        return out
    }
}
