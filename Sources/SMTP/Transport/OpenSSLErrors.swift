internal import COpenSSL

/// OpenSSL's per-thread error queue, emptied into words at the call that failed (as swift-nio-ssl's
/// `SSLErrors.swift` does), so a failure reason says what OpenSSL saw and no stale entry is left to
/// confuse the next `SSL_get_error` on this thread.
enum OpenSSLErrors {
    struct Entry: Sendable {
        var code: UInt
        var text: String
        /// OpenSSL 3 reports a peer that closed without close_notify as this error.
        var isUnexpectedEOF: Bool { ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING }
    }

    /// Takes every entry off the queue, oldest first.
    static func drain() -> [Entry] {
        var entries: [Entry] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { return entries }
            let text: String
            if let reason = ERR_reason_error_string(code) {
                text = String(cString: reason)
            } else {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            if !entries.contains(where: { $0.text == text }) { entries.append(Entry(code: code, text: text)) }
        }
    }

    /// The drained queue as one clause, e.g. "wrong version number", or `fallback` when it was empty.
    static func describe(_ entries: [Entry], fallback: String) -> String {
        entries.isEmpty ? fallback : entries.map(\.text).joined(separator: "; ")
    }
}
