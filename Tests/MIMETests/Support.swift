import MIME
import MailCore

/// A message split at the blank line, with its header fields unfolded: just enough parsing for tests to look at
/// what the composer wrote (the independent check is `PythonEmailParserTests`).
struct SplitMessage {
    var fields: [(name: String, value: String)]
    var body: [UInt8]

    init(_ bytes: [UInt8]) {
        let text = bytes
        var i = 0
        var fields: [(String, String)] = []
        var current: [UInt8] = []
        func flush() {
            guard !current.isEmpty else { return }
            let colon = current.firstIndex(of: 0x3A)!
            var valueStart = colon + 1
            if valueStart < current.count, current[valueStart] == 0x20 { valueStart += 1 }
            fields.append(
                (
                    String(decoding: current[..<colon], as: UTF8.self),
                    String(decoding: current[valueStart...], as: UTF8.self)
                )
            )
            current = []
        }
        while i < text.count {
            var end = i
            while end + 1 < text.count, !(text[end] == 0x0D && text[end + 1] == 0x0A) { end += 1 }
            let line = text[i..<end]
            i = end + 2
            if line.isEmpty { break }
            if line.first == 0x20 || line.first == 0x09 {
                current.append(contentsOf: line)  // unfold: drop the CRLF, keep the white space
            } else {
                flush()
                current = Array(line)
            }
        }
        flush()
        self.fields = fields
        self.body = i < text.count ? Array(text[i...]) : []
    }

    func values(_ name: String) -> [String] {
        fields.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    func value(_ name: String) -> String? { values(name).first }
}

/// The lines of `bytes`, split at CRLF (the CRLFs removed).
func crlfLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    var lines: [ArraySlice<UInt8>] = []
    var start = 0
    var i = 0
    while i + 1 < bytes.count {
        if bytes[i] == 0x0D && bytes[i + 1] == 0x0A {
            lines.append(bytes[start..<i])
            i += 2
            start = i
        } else {
            i += 1
        }
    }
    if start < bytes.count { lines.append(bytes[start...]) }
    return lines
}

/// Every CR is followed by LF and every LF preceded by CR.
func hasOnlyCRLF(_ bytes: [UInt8]) -> Bool {
    for (i, b) in bytes.enumerated() {
        if b == 0x0D && (i + 1 == bytes.count || bytes[i + 1] != 0x0A) { return false }
        if b == 0x0A && (i == 0 || bytes[i - 1] != 0x0D) { return false }
    }
    return true
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

/// A fixed date: Mon, 30 Nov 2026 12:04:05 +0000.
let fixedDate = Timestamp(rfc3339: "2026-11-30T12:04:05Z")!
