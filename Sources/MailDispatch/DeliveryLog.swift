import Logging
import MailCore
import Outbox

/// The log lines of delivery: one per recipient and attempt, `key=value` (SPEC §5). Replies are the
/// relay's words; they never contain our secrets.
enum DeliveryLog {
    static func attempt(
        _ logger: Logger, message: ClaimedMessage, result: DeliveryResult, verdict: MessageVerdict?, duration: Double
    ) {
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
                logger.info("delivered", metadata: metadata)
            case .deferred:
                metadata["event"] = "deferred"
                if result.uncertain { metadata["uncertain"] = "true" }
                logger.notice("deferred", metadata: metadata)
            case .failed:
                metadata["event"] = "bounced"
                logger.warning("bounced", metadata: metadata)
            }
        }
        if let verdict, verdict.expired {
            var metadata = common
            metadata["event"] = "expired"
            metadata["reply"] = "\(verdict.lastError ?? "")"
            logger.warning("expired", metadata: metadata)
        }
    }

    /// Seconds with millisecond precision, without Foundation's formatters.
    static func format3(_ seconds: Double) -> String {
        let ms = Int((seconds * 1000).rounded())
        let fraction = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
