import MailCore

/// One delivery attempt's outcome as the journal keeps it until it is applied to the outbox.
struct JournalEntry: Sendable {
    var message: Int64
    /// The message's attempts when it was claimed: the outcome applies only to that claim.
    var attemptsBefore: Int
    var at: Timestamp
    var result: DeliveryResult
}

/// The SQL of the delivery journal as maild kept it before 2026-12 (an SQLite database, read once at
/// start-up by `DeliveryJournal` when an older version left one).
extension OutboxStore {
    static let journalSchema = """
        CREATE TABLE IF NOT EXISTS outcomes (
            seq INTEGER PRIMARY KEY,
            message INTEGER NOT NULL,
            attempts_before INTEGER NOT NULL,
            at INTEGER NOT NULL,
            result TEXT NOT NULL
        );
        """

    /// Every entry not yet removed, oldest first.
    func journalEntries() throws(SQLiteError) -> [(seq: Int64, entry: JournalEntry)] {
        let select = try db.statement("SELECT seq, message, attempts_before, at, result FROM outcomes ORDER BY seq")
        var out: [(Int64, JournalEntry)] = []
        while try select.step() {
            guard let result = JournalCoding.decode(Array((select.string(4) ?? "").utf8)) else { continue }
            out.append(
                (select.int64(0),
                 JournalEntry(
                    message: select.int64(1), attemptsBefore: select.int(2),
                    at: Timestamp(milliseconds: select.int64(3)), result: result)))
        }
        return out
    }
}

/// DeliveryResult ⇄ compact JSON, for the journal.
enum JournalCoding {
    static func encode(_ result: DeliveryResult) -> [UInt8] {
        let recipients: [JSONValue] = result.recipients.map { address, disposition in
            let kind: String
            switch disposition {
            case .delivered: kind = "d"
            case .failed: kind = "f"
            case .deferred: kind = "x"
            }
            return [.string(address), .string(kind), .string(disposition.reply)]
        }
        let value: JSONValue = [
            "relay": .string(result.relay), "error": result.error.map(JSONValue.string) ?? .null,
            "uncertain": .bool(result.uncertain), "recipients": .array(recipients),
        ]
        return value.serialized()
    }

    static func decode(_ bytes: [UInt8]) -> DeliveryResult? {
        guard let value = try? JSONParser.parse(bytes), let relay = value["relay"]?.stringValue,
            let list = value["recipients"]?.arrayValue
        else { return nil }
        var recipients: [(address: String, disposition: RecipientDisposition)] = []
        for item in list {
            guard let fields = item.arrayValue, fields.count == 3, let address = fields[0].stringValue,
                let kind = fields[1].stringValue, let reply = fields[2].stringValue
            else { return nil }
            switch kind {
            case "d": recipients.append((address, .delivered(reply)))
            case "f": recipients.append((address, .failed(reply)))
            default: recipients.append((address, .deferred(reply)))
            }
        }
        return DeliveryResult(
            relay: relay, recipients: recipients, error: value["error"]?.stringValue,
            uncertain: value["uncertain"]?.boolValue ?? false)
    }
}
