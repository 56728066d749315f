import MailCore
import TOMLKit

/// A configuration value, whichever syntax it came from: a TOML file, or the JSON object of an inline
/// `test` request. Validation works on this tree so both are checked by the same rules.
public indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([ConfigValue])
    case table([(String, ConfigValue)])
    /// A TOML date or time, which no key accepts.
    case other(String)

    public static func == (lhs: ConfigValue, rhs: ConfigValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a == b
        case let (.integer(a), .integer(b)): return a == b
        case let (.float(a), .float(b)): return a == b
        case let (.boolean(a), .boolean(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.table(a), .table(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.other(a), .other(b)): return a == b
        default: return false
        }
    }

    /// "a string", "an integer", … for error messages.
    var typeName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a floating-point number"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        case .other(let kind): return "a \(kind)"
        }
    }

    /// Converts a parsed TOML table.
    static func from(toml table: TOMLTable) -> ConfigValue {
        .table(table.keys.sorted().compactMap { key in table[key].map { (key, from(toml: $0)) } })
    }

    static func from(toml value: TOMLValueConvertible) -> ConfigValue {
        switch value.type {
        case .string: return .string(value.string ?? "")
        case .int: return .integer(value.int ?? 0)
        case .double: return .float(value.double ?? 0)
        case .bool: return .boolean(value.bool ?? false)
        case .table: return value.table.map { from(toml: $0) } ?? .table([])
        case .array: return .array(value.array.map { $0.map { from(toml: $0) } } ?? [])
        case .date: return .other("date")
        case .time: return .other("time")
        case .dateTime: return .other("date-time")
        }
    }

    /// Converts a JSON value (numbers without fraction become integers).
    public static func from(json value: JSONValue) -> ConfigValue {
        switch value {
        case .null: return .other("null")
        case .bool(let b): return .boolean(b)
        case .number(let text): return Int(text).map(ConfigValue.integer) ?? .float(Double(text) ?? 0)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map { from(json: $0) })
        case .object(let members): return .table(members.map { ($0.0, from(json: $0.1)) })
        }
    }
}
