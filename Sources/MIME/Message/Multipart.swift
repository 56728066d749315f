/// A multipart entity (RFC 2046 §5.1).
///
/// Boundaries are `=_` followed by the kind and a per-message token, e.g. `=_alt.3f9a…`. They cannot collide with
/// content by construction: a boundary delimiter is a line starting with "--" and the boundary, and no part
/// maild writes can contain "=_" — quoted-printable writes "=" only before two hex digits or a line break,
/// base64 only as final padding, and text goes out as 7bit only when it has no "=_" (`TextBody`); part headers
/// start with a field name or, when folded, with a space. Nested multiparts use different kinds, so no boundary
/// is a prefix of another. "=" makes the boundary a tspecial, hence the quotes in `boundary="…"`.
enum Multipart {
    static func boundary(_ kind: String, _ token: String) -> String { "=_\(kind).\(token)" }

    /// Writes the Content-Type header field, the blank line, each part after a delimiter line, and the close
    /// delimiter (without a CRLF after it: the CRLF before an enclosing delimiter belongs to that delimiter).
    static func write(
        subtype: String, boundary: String, parts: [(inout HeaderWriter) -> Void], into w: inout HeaderWriter
    ) {
        w.begin("Content-Type")
        w.appendWord(Array("multipart/\(subtype);".utf8))
        w.appendWord(Array("boundary=\"\(boundary)\"".utf8))
        w.end()
        w.bytes.appendCRLF()
        let delimiter = Array("--\(boundary)".utf8)
        for (i, part) in parts.enumerated() {
            // RFC 2046 §5.1.1: the CRLF before "--boundary" is part of the delimiter, not of the preceding body.
            if i > 0 { w.bytes.appendCRLF() }
            w.bytes.append(contentsOf: delimiter)
            w.bytes.appendCRLF()
            part(&w)
        }
        w.bytes.appendCRLF()
        w.bytes.append(contentsOf: delimiter)
        w.bytes.append(0x2D)
        w.bytes.append(0x2D)
    }
}
