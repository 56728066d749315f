import MailCore

/// Validates one company file (SPEC §2.2), from TOML or from the inline JSON of a `test` request.
public enum CompanyLoader {
    static func read(id: String, file: String, value: ConfigValue, secrets: SecretReader)
        -> Result<CompanySettings, ConfigError>
    {
        var r = TableReader(file: file, prefix: "", value: value)
        let enabled = r.bool("enabled", default: false)
        let policy = RelayKeys.read(&r, secrets: secrets, enabled: enabled)
        var sender: EmailAddress?
        let senderText = r.string("sender", default: "")
        if !senderText.isEmpty {
            do {
                sender = try EmailAddress.parse(senderText)
            } catch {
                r.issue("sender", "must be an e-mail address: \(error)")
            }
        }
        let senderName = r.has("sender_name") ? r.string("sender_name", default: "") : nil
        if enabled {
            if !r.has("host") { r.issue("host", "is required when enabled = true") }
            if senderText.isEmpty { r.issue("sender", "is required when enabled = true") }
        }
        r.finish()
        if !r.issues.isEmpty { return .failure(ConfigError(r.issues)) }
        return .success(
            CompanySettings(id: id, file: file, enabled: enabled, policy: policy, sender: sender, senderName: senderName))
    }

    /// Validates the inline settings of a `test` request as if they were a company file named
    /// `settings`; relative paths are relative to the global file's directory.
    public static func inline(
        _ value: ConfigValue, configuration: Configuration, environment: [String: String]
    ) -> Result<CompanySettings, ConfigError> {
        let secrets = SecretReader(file: configuration.path, environment: environment)
        // Any client of the socket may send inline settings, and the test sends the password to a relay
        // the client names: a password file would let it read any file maild can (another company's
        // secret, or worse) and have its first line sent wherever it likes. The client gives the
        // password itself (`mailctl test --settings` reads the file with the caller's own rights).
        if case .table(let members) = value, members.contains(where: { key, value in
            if case .string(let path) = value, path.isEmpty { return false }
            return key == "password_file"
        }) {
            return .failure(
                ConfigError([
                    ConfigIssue(
                        file: "settings", key: "password_file",
                        rule: "is not accepted in inline settings (maild would read the file for any client); "
                            + "give password instead, or save the company file and test with company")
                ]))
        }
        // Inline settings are tested as an enabled file, whatever they say, so the relay checks apply.
        var tree = value
        if case .table(var members) = value {
            members.removeAll { $0.0 == "enabled" }
            members.append(("enabled", .boolean(true)))
            tree = .table(members)
        }
        return read(id: "settings", file: "settings", value: tree, secrets: secrets)
    }
}
