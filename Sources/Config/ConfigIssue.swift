/// One problem in a configuration file: which file, which key, which rule.
public struct ConfigIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// The key with its table, e.g. `smtp.timeout`; empty for a problem with the whole file.
    public var key: String
    public var rule: String

    public init(file: String, key: String, rule: String) {
        self.file = file
        self.key = key
        self.rule = rule
    }

    /// `/etc/maild/maild.toml: smtp.timeout: must be between 10 and 180 (got 5)`
    public var description: String { key.isEmpty ? "\(file): \(rule)" : "\(file): \(key): \(rule)" }
}

/// A configuration that cannot be used, with every problem found (not only the first).
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(_ issues: [ConfigIssue]) { self.issues = issues }

    public var description: String { issues.map(\.description).joined(separator: "\n") }
}
