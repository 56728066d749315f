import Config
import MailCore

/// What `maild --check` prints: the settings maild would use, secrets masked, in TOML form.
enum CheckReport {
    static func render(_ c: Configuration) -> String {
        var lines: [String] = ["# \(c.path): valid; effective settings (secrets masked)", "", "[daemon]"]
        let d = c.daemon
        lines += [
            "socket = \(q(d.socket))", "socket_mode = \"\(String(repeating: "0", count: max(0, 4 - String(d.socketMode, radix: 8).count)) + String(d.socketMode, radix: 8))\"",
            "allowed_uids = [\(d.allowedUIDs.map(String.init).joined(separator: ", "))]",
            "database = \(q(d.database))", "companies_dir = \(q(d.companiesDir))", "helo_name = \(q(d.heloName))",
            "max_message_bytes = \(d.maxMessageBytes)", "max_connections = \(d.maxConnections)",
            "relay_connections = \(d.relayConnections)", "retention = \(d.retention)",
            "log_level = \(q(d.logLevel.rawValue))", "", "[smtp]",
        ]
        lines += relay(c.smtp)
        lines += [
            "", "[sender]", "default_sender = \(c.sender.defaultSender)", "address = \(q(c.sender.address.string))",
            "name = \(q(c.sender.name))", "all_notifications = \(c.sender.allNotifications)",
            "on_behalf = \(q(c.sender.onBehalf.rawValue))", "", "[retry]", "min_delay = \(c.retry.minDelay)",
            "max_delay = \(c.retry.maxDelay)", "max_age = \(c.retry.maxAge)",
        ]
        for id in c.companies.keys.sorted() {
            let company = c.companies[id]!
            lines += ["", "# company \(id): \(company.file)", "[companies.\(q(id))]", "enabled = \(company.enabled)"]
            if let sender = company.sender { lines.append("sender = \(q(sender.string))") }
            if let name = company.senderName { lines.append("sender_name = \(q(name))") }
            lines += relay(company.policy)
        }
        if !c.warnings.isEmpty {
            lines += ["", "# warnings:"] + c.warnings.map { "#   \($0)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func relay(_ p: RelayPolicy) -> [String] {
        let r = p.relay
        return [
            "host = \(q(r.host))", "port = \(r.port)", "security = \(q(r.security.rawValue))", "timeout = \(r.timeout)",
            "group = \(p.group)", "auth = \(r.auth)", "username = \(q(r.username))",
            "password = \(q(r.password.isEmpty ? "" : "********"))", "tls_verify = \(r.tlsVerify)",
            "ca_file = \(q(r.caFile ?? ""))", "allow_plaintext_auth = \(r.allowPlaintextAuth)",
        ]
    }

    static func q(_ s: String) -> String { JSONValue.string(s).jsonText }
}
