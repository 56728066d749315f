#if canImport(Glibc)
import Glibc
#endif
import Logging
import MailCore

/// Writes one line per event to stderr as `key=value` pairs (SPEC §5):
/// `level=info event=delivered id=12 company=acme relay=smtp.acme.example:587 recipient=… reply="250 …" duration=0.041`.
/// Under systemd (`$JOURNAL_STREAM` set) the time is left to journald. Each line goes out in one write(2),
/// so lines from different threads never interleave.
struct KeyValueLogHandler: LogHandler {
    /// The level in force, shared by every logger so a reload can change it.
    static let level = Locked<Logger.Level>(.info)
    static let withTime = getenv("JOURNAL_STREAM") == nil

    let label: String
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    var logLevel: Logger.Level {
        get { KeyValueLogHandler.level.current }
        set { KeyValueLogHandler.level.withLock { $0 = newValue } }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        var fields = self.metadata
        if let explicit = event.metadata { fields.merge(explicit) { $1 } }
        var out = ""
        if KeyValueLogHandler.withTime { out += "time=\(SystemWallClock().now().rfc3339) " }
        out += "level=\(KeyValueLogHandler.name(level))"
        if let event = fields.removeValue(forKey: "event") {
            out += " event=\(KeyValueLogHandler.quote("\(event)"))"
        } else {
            out += " event=\(KeyValueLogHandler.quote(message.description))"
        }
        // The fields of SPEC §5 first, in a fixed order, then the rest sorted.
        for key in ["id", "company", "relay", "recipient", "reply", "duration"] {
            if let value = fields.removeValue(forKey: key) { out += " \(key)=\(KeyValueLogHandler.quote("\(value)"))" }
        }
        for key in fields.keys.sorted() { out += " \(key)=\(KeyValueLogHandler.quote("\(fields[key]!)"))" }
        out += "\n"
        var bytes = Array(out.utf8)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(2, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }

    static func name(_ level: Logger.Level) -> String {
        switch level {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .notice: return "notice"
        case .warning: return "warning"
        case .error: return "error"
        case .critical: return "critical"
        }
    }

    /// Quotes a value that has spaces, quotes, `=` or control characters; line breaks become `\n`.
    static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy {
            $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" && $0.value != 0x7F
        }
        if plain { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
