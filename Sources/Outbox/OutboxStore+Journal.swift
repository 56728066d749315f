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

/// DeliveryResult ⇄ bytes, for the journal: a compact binary form, and the JSON that maild wrote before
/// 2026-12 (still read: a crash may have left it in a journal file or the old SQLite journal).
///
///     binary = 0x01 · flags (bit 0: uncertain, bit 1: an error follows) · relay · [error] ·
///              recipient count (UInt32) · for each: kind ("d", "f" or "x") · address · reply
///     string = byte count (UInt32, little-endian) · UTF-8
///
/// JSON always starts with "{", so the first byte tells them apart. Encoding the JSON cost 10,000
/// instructions per delivered message (a tree of values, then its serialisation); this, under 1,000.
enum JournalCoding {
    private static let binaryMarker: UInt8 = 0x01

    static func encode(_ result: DeliveryResult) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + result.relay.utf8.count + result.recipients.count * 96)
        out.append(binaryMarker)
        out.append((result.uncertain ? 1 : 0) | (result.error != nil ? 2 : 0))
        appendString(result.relay, to: &out)
        if let error = result.error { appendString(error, to: &out) }
        appendUInt32(UInt32(result.recipients.count), to: &out)
        for (address, disposition) in result.recipients {
            out.append(kind(of: disposition))
            appendString(address, to: &out)
            appendString(disposition.reply, to: &out)
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> DeliveryResult? {
        guard let first = bytes.first else { return nil }
        return first == binaryMarker ? decodeBinary(bytes) : decodeJSON(bytes)
    }

    /// A recipient's disposition as one letter: "d"elivered, "f"ailed, or deferred ("x").
    private static func kind(of disposition: RecipientDisposition) -> UInt8 {
        switch disposition {
        case .delivered: return UInt8(ascii: "d")
        case .failed: return UInt8(ascii: "f")
        case .deferred: return UInt8(ascii: "x")
        }
    }

    /// The disposition a letter of `kind(of:)` stands for; nil for any other byte.
    private static func disposition(kind: UInt8, reply: String) -> RecipientDisposition? {
        switch kind {
        case UInt8(ascii: "d"): return .delivered(reply)
        case UInt8(ascii: "f"): return .failed(reply)
        case UInt8(ascii: "x"): return .deferred(reply)
        default: return nil
        }
    }

    private static func appendUInt32(_ value: UInt32, to out: inout [UInt8]) { out.appendLittleEndian(value) }

    private static func appendString(_ text: String, to out: inout [UInt8]) {
        appendUInt32(UInt32(text.utf8.count), to: &out)
        out.append(contentsOf: text.utf8)
    }

    private static func decodeBinary(_ bytes: [UInt8]) -> DeliveryResult? {
        var index = 1
        func byte() -> UInt8? {
            guard index < bytes.count else { return nil }
            defer { index += 1 }
            return bytes[index]
        }
        func uint32() -> Int? {
            guard bytes.count - index >= 4 else { return nil }
            defer { index += 4 }
            return Int(bytes[...].littleEndian(UInt32.self, at: index))
        }
        func string() -> String? {
            guard let count = uint32(), bytes.count - index >= count else { return nil }
            defer { index += count }
            return String(decoding: bytes[index..<index + count], as: UTF8.self)
        }
        guard let flags = byte(), let relay = string() else { return nil }
        var error: String? = nil
        if flags & 2 != 0 {
            guard let text = string() else { return nil }
            error = text
        }
        guard let count = uint32(), count <= bytes.count else { return nil }
        var recipients: [(address: String, disposition: RecipientDisposition)] = []
        recipients.reserveCapacity(count)
        for _ in 0..<count {
            guard let kind = byte(), let address = string(), let reply = string(),
                let disposition = disposition(kind: kind, reply: reply)
            else { return nil }
            recipients.append((address, disposition))
        }
        guard index == bytes.count else { return nil }
        return DeliveryResult(relay: relay, recipients: recipients, error: error, uncertain: flags & 1 != 0)
    }

    /// The JSON form, kept for testing that older journals are still read.
    static func encodeJSON(_ result: DeliveryResult) -> [UInt8] {
        let recipients: [JSONValue] = result.recipients.map { address, disposition in
            let kind = String(decoding: [kind(of: disposition)], as: UTF8.self)
            return [.string(address), .string(kind), .string(disposition.reply)]
        }
        let value: JSONValue = [
            "relay": .string(result.relay), "error": result.error.map(JSONValue.string) ?? .null,
            "uncertain": .bool(result.uncertain), "recipients": .array(recipients),
        ]
        return value.serialized()
    }

    private static func decodeJSON(_ bytes: [UInt8]) -> DeliveryResult? {
        guard let value = try? JSONParser.parse(bytes), let relay = value["relay"]?.stringValue,
            let list = value["recipients"]?.arrayValue
        else { return nil }
        var recipients: [(address: String, disposition: RecipientDisposition)] = []
        for item in list {
            guard let fields = item.arrayValue, fields.count == 3, let address = fields[0].stringValue,
                let kind = fields[1].stringValue, let reply = fields[2].stringValue
            else { return nil }
            // As the JSON reader always did: any letter but "d" and "f" defers.
            let letter = kind.utf8.count == 1 ? kind.utf8.first! : UInt8(ascii: "x")
            recipients.append((address, disposition(kind: letter, reply: reply) ?? .deferred(reply)))
        }
        return DeliveryResult(
            relay: relay, recipients: recipients, error: value["error"]?.stringValue,
            uncertain: value["uncertain"]?.boolValue ?? false)
    }
}
