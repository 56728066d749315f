#if canImport(Glibc)
import Glibc
#endif
import MailCore

/// A company-style settings file read for the `test` request (`mailctl test --settings FILE`): its
/// contents as the JSON object the request carries, with relative file paths made absolute against the
/// file's own directory, as they would be if the file were saved in `companies_dir`. A `password_file`
/// is read here, with the caller's rights, and sent as `password`: maild does not read files named by a
/// client.
public enum SettingsFile {
    public static func json(path: String) throws(ConfigError) -> JSONValue {
        guard let bytes = FilePath.readFile(path, limit: 1 << 20) else {
            throw ConfigError([ConfigIssue(file: path, key: "", rule: "cannot read it: \(FilePath.readErrorText)")])
        }
        switch ConfigLoader.parseTOML(bytes, file: path) {
        case .failure(let issue): throw ConfigError([issue])
        case .success(let tree):
            let directory = FilePath.directory(of: path)
            guard case .table(let members) = tree else { return .object([]) }
            var object: [(String, JSONValue)] = []
            for (key, value) in members {
                guard case .string(let s) = value, !s.isEmpty, key == "password_file" || key == "ca_file" else {
                    object.append((key, value.json))
                    continue
                }
                if key == "ca_file" {
                    object.append((key, .string(s.hasPrefix("$") ? s : absolute(FilePath.resolve(s, relativeTo: directory)))))
                } else {
                    object.append(("password", .string(try password(file: s, settings: path, members: members))))
                }
            }
            return .object(object)
        }
    }

    /// The password a settings file's `password_file` names, read as maild reads it (its first line).
    private static func password(file: String, settings path: String, members: [(String, ConfigValue)])
        throws(ConfigError) -> String
    {
        func issue(_ rule: String) -> ConfigError { ConfigError([ConfigIssue(file: path, key: "password_file", rule: rule)]) }
        if members.contains(where: { $0.0 == "password" }) { throw issue("set password or password_file, not both") }
        if file.contains("$CREDENTIALS_DIRECTORY") || file.contains("${CREDENTIALS_DIRECTORY}") {
            throw issue(
                "names maild's $CREDENTIALS_DIRECTORY, which mailctl cannot read; "
                    + "save the file in companies_dir and test with --company")
        }
        switch SecretReader(file: path, environment: [:]).read(file) {
        case .success(let secret): return secret.reveal()
        case .failure(let problem): throw issue(problem.text)
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
