import Logging
import MailCore
import Outbox

/// The log lines of delivery: one per recipient and attempt, `key=value` (SPEC §5). Replies are the
/// relay's words; they never contain our secrets.
enum DeliveryLog {
    static func attempt(
        _ logger: Logger, message: ClaimedMessage, result: DeliveryResult, verdict: MessageVerdict?, duration: Double
    ) {
        // Building the fields costs more than the rest of a delivery's bookkeeping: skip it when no line
        // would be printed.
        let levels = result.recipients.map { level($0.disposition) } + (verdict?.expired == true ? [.warning] : [])
        guard let loudest = levels.max(), loudest >= logger.logLevel else { return }
        let common: Logger.Metadata = [
            "id": "\(message.id)", "company": "\(message.company ?? "-")", "relay": "\(result.relay)",
            "duration": "\(format3(duration))",
        ]
        for (address, disposition) in result.recipients {
            var metadata = common
            metadata["recipient"] = "\(address)"
            metadata["reply"] = "\(disposition.reply)"
            switch disposition {
            case .delivered:
                metadata["event"] = "delivered"
                logger.log(level: level(disposition), "delivered", metadata: metadata)
            case .deferred:
                metadata["event"] = "deferred"
                if result.uncertain { metadata["uncertain"] = "true" }
                logger.log(level: level(disposition), "deferred", metadata: metadata)
            case .failed:
                metadata["event"] = "bounced"
                logger.log(level: level(disposition), "bounced", metadata: metadata)
            }
        }
        if let verdict, verdict.expired {
            var metadata = common
            metadata["event"] = "expired"
            metadata["reply"] = "\(verdict.lastError ?? "")"
            logger.warning("expired", metadata: metadata)
        }
    }

    static func level(_ disposition: RecipientDisposition) -> Logger.Level {
        switch disposition {
        case .delivered: return .info
        case .deferred: return .notice
        case .failed: return .warning
        }
    }

    /// Seconds with millisecond precision, without Foundation's formatters.
    static func format3(_ seconds: Double) -> String {
        let ms = Int((seconds * 1000).rounded())
        let fraction = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
