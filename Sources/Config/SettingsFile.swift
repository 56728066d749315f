import MailCore

/// A company-style settings file read for the `test` request (`mailctl test --settings FILE`): its
/// contents as the JSON object the request carries, with relative file paths made absolute against the
/// file's own directory, as they would be if the file were saved in `companies_dir`.
public enum SettingsFile {
    public static func json(path: String) throws(ConfigError) -> JSONValue {
        guard let bytes = FilePath.readFile(path, limit: 1 << 20) else {
            throw ConfigError([ConfigIssue(file: path, key: "", rule: "cannot read it")])
        }
        switch ConfigLoader.parseTOML(bytes, file: path) {
        case .failure(let issue): throw ConfigError([issue])
        case .success(let tree):
            let directory = FilePath.directory(of: path)
            guard case .table(let members) = tree else { return .object([]) }
            return .object(members.map { key, value in
                if ["password_file", "ca_file"].contains(key), case .string(let s) = value, !s.isEmpty, !s.hasPrefix("$") {
                    return (key, .string(absolute(FilePath.resolve(s, relativeTo: directory))))
                }
                return (key, value.json)
            })
        }
    }

    private static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return ProcessDirectory.current() + "/" + path
    }
}

extension ConfigValue {
    /// The value as JSON.
    public var json: JSONValue {
        switch self {
        case .string(let s): return .string(s)
        case .integer(let i): return .int(i)
        case .float(let d): return .number(String(d))
        case .boolean(let b): return .bool(b)
        case .array(let a): return .array(a.map(\.json))
        case .table(let members): return .object(members.map { ($0.0, $0.1.json) })
        case .other(let kind): return .string("<\(kind)>")
        }
    }
}
