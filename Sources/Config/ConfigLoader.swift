#if canImport(Glibc)
import Glibc
#endif
import MailCore
import TOMLKit

/// Reads and validates the global file and every company file (SPEC §2). Blocking file I/O: call it
/// from a thread of its own, never from Swift's cooperative pool.
public enum ConfigLoader {
    /// Loads everything, or throws every problem found in any file.
    public static func load(
        path: String, environment: [String: String] = [:], hostName: String = ConfigLoader.systemHostName(),
        now: Timestamp = SystemWallClock().now()
    ) throws(ConfigError) -> Configuration {
        var issues: [ConfigIssue] = []
        guard let bytes = FilePath.readFile(path, limit: 1 << 20) else {
            throw ConfigError([ConfigIssue(file: path, key: "", rule: "cannot read: \(FilePath.readErrorText)")])
        }
        let secrets = SecretReader(file: path, environment: environment)
        let tree: ConfigValue
        switch parseTOML(bytes, file: path) {
        case .success(let t): tree = t
        case .failure(let issue): throw ConfigError([issue])
        }

        var top = TableReader(file: path, prefix: "", value: tree)
        var daemonReader = TableReader(file: path, prefix: "daemon", value: top.table("daemon"))
        let daemon = readDaemon(&daemonReader, secrets: secrets, hostName: hostName)
        var smtpReader = TableReader(file: path, prefix: "smtp", value: top.table("smtp"))
        let smtp = RelayKeys.read(&smtpReader, secrets: secrets, enabled: true)
        var senderReader = TableReader(file: path, prefix: "sender", value: top.table("sender"))
        let sender = readSender(&senderReader, hostName: daemon.heloName)
        var retryReader = TableReader(file: path, prefix: "retry", value: top.table("retry"))
        let retry = readRetry(&retryReader)
        for var reader in [top, daemonReader, smtpReader, senderReader, retryReader] {
            reader.finish()
            issues += reader.issues
        }

        var companies: [String: CompanySettings] = [:]
        var warnings = secrets.warnings
        let dir = secrets.resolve(daemon.companiesDir)
        if !daemon.companiesDir.isEmpty && dir == FilePath.resolve(".", relativeTo: FilePath.directory(of: path)) {
            // Every .toml there would be a company file: maild.toml itself among them.
            issues.append(ConfigIssue(
                file: path, key: "daemon.companies_dir", rule: "must not be the directory of this file (got \"\(daemon.companiesDir)\")"))
        } else if let files = FilePath.tomlFiles(in: dir) {
            for name in files {
                let id = String(name.dropLast(5))
                let file = dir + "/" + name
                guard CompanyID.isValid(id) else {
                    issues.append(ConfigIssue(file: file, key: "", rule: "file name is not a valid company id: \(CompanyID.rule)"))
                    continue
                }
                guard let bytes = FilePath.readFile(file, limit: 1 << 20) else {
                    issues.append(ConfigIssue(file: file, key: "", rule: "cannot read: \(FilePath.readErrorText)"))
                    continue
                }
                switch parseTOML(bytes, file: file) {
                case .failure(let issue): issues.append(issue)
                case .success(let tree):
                    let companySecrets = SecretReader(file: file, environment: environment)
                    switch CompanyLoader.read(id: id, file: file, value: tree, secrets: companySecrets) {
                    case .success(let company): companies[id] = company
                    case .failure(let error): issues += error.issues
                    }
                    warnings += companySecrets.warnings
                }
            }
        } else {
            // Not an error (a platform may add its first company later), but a typo here would quietly
            // send every company's mail through the global relay.
            let reason = String(cString: strerror(errno))
            warnings.append("\(path): daemon.companies_dir \(dir) cannot be read (\(reason)): no company files are loaded")
        }
        if !issues.isEmpty { throw ConfigError(issues) }
        var configuration = Configuration(
            path: path, daemon: daemon, smtp: smtp, sender: sender, retry: retry, companies: companies,
            warnings: warnings, loadedAt: now)
        configuration.daemon.socket = secrets.resolve(daemon.socket)
        configuration.daemon.database = secrets.resolve(daemon.database)
        configuration.daemon.companiesDir = dir
        return configuration
    }

    static func parseTOML(_ bytes: [UInt8], file: String) -> Result<ConfigValue, ConfigIssue> {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(ConfigIssue(file: file, key: "", rule: "is not valid UTF-8"))
        }
        if let line = lineOfNULEscape(bytes) {
            // The TOML library hands strings over as C strings: the value would silently end at the NUL.
            return .failure(ConfigIssue(file: file, key: "", rule: "line \(line): a NUL character (\\u0000) is not allowed"))
        }
        do {
            return .success(ConfigValue.from(toml: try TOMLTable(string: text)))
        } catch let error as TOMLParseError {
            let where_ = "line \(error.source.begin.line), column \(error.source.begin.column)"
            return .failure(ConfigIssue(file: file, key: "", rule: "TOML syntax error at \(where_): \(error.description)"))
        } catch {
            return .failure(ConfigIssue(file: file, key: "", rule: "TOML syntax error: \(error)"))
        }
    }

    /// The line of the first `\u0000` or `\U00000000` escape (one not itself escaped as `\\u0000`), if any.
    static func lineOfNULEscape(_ bytes: [UInt8]) -> Int? {
        let backslash = UInt8(ascii: "\\")
        var line = 1
        var backslashes = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\n") { line += 1 }
            if b == backslash {
                backslashes += 1
            } else {
                if backslashes % 2 == 1 {
                    let digits = b == UInt8(ascii: "u") ? 4 : b == UInt8(ascii: "U") ? 8 : 0
                    if digits > 0, i + digits < bytes.count, bytes[(i + 1)...(i + digits)].allSatisfy({ $0 == UInt8(ascii: "0") }) {
                        return line
                    }
                }
                backslashes = 0
            }
            i += 1
        }
        return nil
    }

    static func readDaemon(_ r: inout TableReader, secrets: SecretReader, hostName: String) -> DaemonSettings {
        var d = DaemonSettings()
        d.socket = r.string("socket", default: d.socket)
        if d.socket.isEmpty { r.issue("socket", "must not be empty") }
        if d.socket.utf8.count > 107 { r.issue("socket", "is longer than a Unix socket path may be (107 bytes)") }
        d.socketMode = readMode(&r, "socket_mode", default: d.socketMode)
        if let v = r.raw("allowed_uids") {
            if case .array(let items) = v {
                for (i, item) in items.enumerated() {
                    if case .integer(let uid) = item, (0...Int(UInt32.max - 1)).contains(uid) {
                        d.allowedUIDs.append(UInt32(uid))
                    } else {
                        r.issue("allowed_uids", "element \(i) must be a user id (a non-negative integer)")
                    }
                }
            } else {
                r.issue("allowed_uids", "must be an array of user ids (got \(v.typeName))")
            }
        }
        d.database = r.string("database", default: d.database)
        if d.database.isEmpty { r.issue("database", "must not be empty") }
        d.companiesDir = r.string("companies_dir", default: d.companiesDir)
        if d.companiesDir.isEmpty { r.issue("companies_dir", "must not be empty") }
        let helo = r.string("helo_name", default: "")
        if !helo.isEmpty && !isHostName(helo) && !(helo.hasPrefix("[") && helo.hasSuffix("]")) {
            r.issue("helo_name", "must be a host name or an address literal like [192.0.2.1] (got \"\(helo)\")")
        }
        d.heloName = helo.isEmpty ? hostName : helo
        d.maxMessageBytes = r.int("max_message_bytes", default: d.maxMessageBytes, range: 1024...1 << 30)
        d.maxConnections = r.int("max_connections", default: d.maxConnections, range: 1...1000)
        d.relayConnections = r.int("relay_connections", default: d.relayConnections, range: 1...1000)
        if d.relayConnections > d.maxConnections {
            r.issue("relay_connections", "must not exceed max_connections (\(d.maxConnections))")
        } else if d.relayConnections == d.maxConnections && d.maxConnections > 1 {
            secrets.warn(
                r.keyName("relay_connections"),
                "equals max_connections: one relay that hangs, alone in use, can hold every connection")
        }
        // As retry.max_age: a value past Int32 (68 years) overflowed the sweep's cut-off time and crashed it.
        d.retention = r.int("retention", default: d.retention, range: 1...Int(Int32.max))
        d.logLevel = r.choice("log_level", default: d.logLevel)
        return d
    }

    static func readMode(_ r: inout TableReader, _ key: String, default value: UInt32) -> UInt32 {
        guard let v = r.raw(key) else { return value }
        switch v {
        case .string(let s):
            guard !s.isEmpty, s.count <= 4, let mode = UInt32(s, radix: 8), mode <= 0o777 else {
                r.issue(key, "must be octal permission bits like \"0660\" (got \"\(s)\")")
                return value
            }
            return mode
        case .integer(let i) where (0...0o777).contains(i):
            return UInt32(i)
        default:
            r.issue(key, "must be octal permission bits like \"0660\" (got \(v.typeName))")
            return value
        }
    }

    static func readSender(_ r: inout TableReader, hostName: String) -> SenderSettings {
        let fallback = EmailAddress(localPart: "noreply", domain: hostName)
        var s = SenderSettings(address: fallback)
        s.defaultSender = r.bool("default_sender", default: true)
        let address = r.string("address", default: "")
        if !address.isEmpty {
            do {
                s.address = try EmailAddress.parse(address)
            } catch {
                r.issue("address", "must be an e-mail address: \(error)")
            }
        }
        s.name = r.string("name", default: "")
        s.allNotifications = r.bool("all_notifications", default: false)
        s.onBehalf = r.choice("on_behalf", default: .from)
        return s
    }

    static func readRetry(_ r: inout TableReader) -> RetryPolicy {
        var p = RetryPolicy()
        p.minDelay = r.int("min_delay", default: p.minDelay, range: 1...Int(Int32.max))
        p.maxDelay = r.int("max_delay", default: p.maxDelay, range: 1...Int(Int32.max))
        p.maxAge = r.int("max_age", default: p.maxAge, range: 1...Int(Int32.max))
        if p.maxDelay < p.minDelay { r.issue("max_delay", "must be at least min_delay (\(p.minDelay))") }
        return p
    }

    static func isHostName(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D }
        }
    }

    /// This host's name, for EHLO when `helo_name` is empty.
    public static func systemHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return isHostName(name) ? name : "localhost"
    }
}

extension TableReader {
    /// A sub-table of this table (read as a key, so it is not reported unknown).
    mutating func table(_ key: String) -> ConfigValue? {
        guard let v = raw(key) else { return nil }
        guard case .table = v else {
            issue(key, "must be a table [\(key)] (got \(v.typeName))")
            return nil
        }
        return v
    }
}
