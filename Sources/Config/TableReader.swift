import MailCore

/// Reads the keys of one table with type and range checks, collecting every problem instead of
/// stopping at the first, and reports keys that no reader asked for as unknown.
struct TableReader {
    let file: String
    /// The table's name in keys of messages ("smtp"), or "" for the top level.
    let prefix: String
    private(set) var members: [(String, ConfigValue)]
    private var read: Set<String> = []
    var issues: [ConfigIssue] = []

    init(file: String, prefix: String, value: ConfigValue?) {
        self.file = file
        self.prefix = prefix
        if case .table(let members)? = value {
            self.members = members
        } else {
            self.members = []
        }
    }

    func keyName(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    mutating func issue(_ key: String, _ rule: String) {
        issues.append(ConfigIssue(file: file, key: keyName(key), rule: rule))
    }

    mutating func raw(_ key: String) -> ConfigValue? {
        read.insert(key)
        return members.first(where: { $0.0 == key })?.1
    }

    func has(_ key: String) -> Bool { members.contains { $0.0 == key } }

    mutating func string(_ key: String, default value: String) -> String {
        guard let v = raw(key) else { return value }
        guard case .string(let s) = v else {
            issue(key, "must be a string (got \(v.typeName))")
            return value
        }
        if s.utf8.contains(where: { $0 == 0 || $0 == 0x0A || $0 == 0x0D }) {
            issue(key, "must not contain line breaks or NUL")
            return value
        }
        return s
    }

    mutating func bool(_ key: String, default value: Bool) -> Bool {
        guard let v = raw(key) else { return value }
        guard case .boolean(let b) = v else {
            issue(key, "must be true or false (got \(v.typeName))")
            return value
        }
        return b
    }

    mutating func int(_ key: String, default value: Int, range: ClosedRange<Int>) -> Int {
        guard let v = raw(key) else { return value }
        guard case .integer(let i) = v else {
            issue(key, "must be an integer (got \(v.typeName))")
            return value
        }
        guard range.contains(i) else {
            if range.upperBound == Int.max {
                issue(key, "must be at least \(range.lowerBound) (got \(i))")
            } else {
                issue(key, "must be between \(range.lowerBound) and \(range.upperBound) (got \(i))")
            }
            return value
        }
        return i
    }

    mutating func choice<E: RawRepresentable & CaseIterable>(_ key: String, default value: E) -> E
    where E.RawValue == String {
        let text = string(key, default: value.rawValue)
        guard let e = E(rawValue: text) else {
            let allowed = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            issue(key, "must be one of \(allowed) (got \"\(text)\")")
            return value
        }
        return e
    }

    /// Reports every key of the table that was never read.
    mutating func finish() {
        for (key, _) in members where !read.contains(key) {
            issue(key, "unknown key")
        }
    }
}
