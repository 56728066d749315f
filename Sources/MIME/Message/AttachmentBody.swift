import MailCore

/// An attachment part: its media type, `Content-Disposition: attachment` with the file name as an RFC 2231
/// parameter, and the bytes in base64 at 76 columns (RFC 2045 §6.8).
///
/// The file name goes in `filename` (and, for readers that look there, in the Content-Type's `name`): as a
/// quoted string when it is short printable ASCII, else as `filename*=utf-8''…` (RFC 2231 §4, sections per §3
/// when long). No lossy ASCII `filename=` is added next to a `filename*`: readers that take the first `filename`
/// they see (Python's legacy API, some webmails) would then show the lossy name instead of the real one, and
/// every current mail client reads RFC 2231.
enum AttachmentBody {
    static func write(_ attachment: Attachment, into w: inout HeaderWriter) {
        let type: MediaType
        switch MediaType.parse(attachment.contentType) {
        case .success(let t): type = t
        // Refused by MessageValidator; octet-stream is the safe reading of anything else (RFC 2046 §4.5.1).
        case .failure: type = MediaType(type: "application", subtype: "octet-stream", parameters: [])
        }
        let name = String(decoding: attachment.filename.utf8.filter { !ASCII.isLineBreak($0) }, as: UTF8.self)

        w.begin("Content-Type")
        let typeParameters = type.parameterStrings(excluding: "name")
        parameters(first: type.essence, typeParameters + RFC2231.parameter("name", name), into: &w)
        w.end()
        w.begin("Content-Disposition")
        parameters(first: "attachment", RFC2231.parameter("filename", name), into: &w)
        w.end()
        w.field("Content-Transfer-Encoding", "base64")
        w.bytes.appendCRLF()
        w.bytes.append(contentsOf: Base64.encode(attachment.data, lineLength: 76))
    }

    /// `first; a=1; b=2`, each item an unbreakable unit (folding happens between them).
    private static func parameters(first: String, _ items: [String], into w: inout HeaderWriter) {
        w.appendWord(Array((items.isEmpty ? first : first + ";").utf8))
        for (i, item) in items.enumerated() {
            w.appendWord(Array((i == items.count - 1 ? item : item + ";").utf8))
        }
    }
}
