import Testing

@testable import Config
@testable import MailCore

@Suite struct ConfigLoaderTests {
    @Test func anEmptyFileGivesTheDefaults() throws {
        let dir = ConfigDirectory()
        let c = try dir.load("")
        #expect(c.daemon.socket == "/run/maild/maild.sock" && c.daemon.socketMode == 0o660)
        #expect(c.daemon.database == "/var/lib/maild/outbox.db")
        #expect(c.daemon.companiesDir == dir.path + "/companies.d")
        #expect(c.daemon.heloName == "host.test")
        #expect(c.daemon.maxMessageBytes == 26_214_400 && c.daemon.maxConnections == 8 && c.daemon.relayConnections == 4)
        #expect(c.daemon.retention == 604_800)
        #expect(c.smtp.relay == RelaySettings(host: "localhost", port: 25, security: .none, timeout: 180))
        #expect(c.smtp.group)
        #expect(c.sender.defaultSender && c.sender.address.string == "noreply@host.test")
        #expect(c.sender.onBehalf == .from && !c.sender.allNotifications)
        #expect(c.retry == RetryPolicy(minDelay: 30, maxDelay: 3600, maxAge: 432_000))
    }

    @Test func readsEveryKey() throws {
        let dir = ConfigDirectory()
        dir.write("smtp.secret", "s3cr3t\nignored\n", mode: 0o600)
        let c = try dir.load(
            """
            [daemon]
            socket = "run/maild.sock"
            socket_mode = "0600"
            allowed_uids = [1000, 1001]
            database = "/tmp/x.db"
            helo_name = "mail.example.com"
            max_message_bytes = 1048576
            max_connections = 16
            relay_connections = 2
            retention = 3600
            log_level = "debug"
            [smtp]
            host = "smtp.example.com"
            port = 587
            security = "starttls"
            timeout = 10
            group = false
            auth = true
            username = "u"
            password_file = "smtp.secret"
            [sender]
            default_sender = false
            address = "noreply@example.com"
            name = "Example"
            all_notifications = true
            on_behalf = "reply_to"
            [retry]
            min_delay = 5
            max_delay = 50
            max_age = 500
            """)
        #expect(c.daemon.socket == dir.path + "/run/maild.sock" && c.daemon.socketMode == 0o600)
        #expect(c.daemon.allowedUIDs == [1000, 1001] && c.daemon.heloName == "mail.example.com")
        #expect(c.daemon.logLevel == .debug && c.daemon.relayConnections == 2)
        #expect(c.smtp.relay.password.reveal() == "s3cr3t" && c.smtp.relay.security == .starttls && !c.smtp.group)
        #expect(c.sender.onBehalf == .replyTo && c.sender.allNotifications && !c.sender.defaultSender)
        #expect(c.retry == RetryPolicy(minDelay: 5, maxDelay: 50, maxAge: 500))
        #expect(c.warnings.isEmpty)
    }

    @Test(arguments: [
        ("[smtp]\ntimeout = 5", "smtp.timeout: must be between 10 and 180 (got 5)"),
        ("[smtp]\ntimeout = 181", "smtp.timeout: must be between 10 and 180 (got 181)"),
        ("[smtp]\nport = 0", "smtp.port: must be between 1 and 65535 (got 0)"),
        ("[smtp]\nport = \"25\"", "smtp.port: must be an integer (got a string)"),
        ("[smtp]\nsecurity = \"ssl\"", "smtp.security: must be one of \"none\", \"starttls\", \"tls\" (got \"ssl\")"),
        ("[smtp]\nhots = \"x\"", "smtp.hots: unknown key"),
        ("[smpt]\nhost = \"x\"", "smpt: unknown key"),
        ("[smtp]\nauth = true\nusername = \"u\"\npassword = \"p\"", "smtp.auth: auth = true with security = \"none\""),
        ("[smtp]\nauth = true\nsecurity = \"tls\"", "smtp.username: is required when auth = true"),
        ("[smtp]\npassword = \"a\"\npassword_file = \"b\"", "smtp.password_file: set password or password_file"),
        ("[smtp]\npassword_file = \"missing.secret\"", "smtp.password_file: cannot read"),
        ("[daemon]\nsocket_mode = \"999\"", "daemon.socket_mode: must be octal"),
        ("[daemon]\nrelay_connections = 9", "daemon.relay_connections: must not exceed max_connections (8)"),
        ("[daemon]\nallowed_uids = [\"root\"]", "daemon.allowed_uids: element 0 must be a user id"),
        ("[daemon]\nretention = 0", "daemon.retention: must be between 1 and 2147483647 (got 0)"),
        ("[sender]\naddress = \"nobody\"", "sender.address: must be an e-mail address"),
        ("[sender]\non_behalf = \"both\"", "sender.on_behalf: must be one of"),
        ("[retry]\nmin_delay = 10\nmax_delay = 5", "retry.max_delay: must be at least min_delay (10)"),
        ("[daemon]\nretention = 9223372036854775807", "daemon.retention: must be between 1 and 2147483647"),
        ("[daemon]\ncompanies_dir = \"\"", "daemon.companies_dir: must not be empty"),
        ("[smtp]\nhost = \"127.0.0.1:2525\"", "smtp.host: must not include a port: give it in port"),
        ("[smtp]\nhost = \"[relay.example]:587\"", "smtp.host: must not include a port"),
        ("[smtp]\nhost = \"-bad.example\"", "smtp.host: must be a host name or an IP address"),
        ("[smtp]\nhost = \"\(String(repeating: "a", count: 64)).example\"", "smtp.host: must be a host name"),
        ("[daemon]\ncompanies_dir = \".\"", "daemon.companies_dir: must not be the directory of this file"),
        ("[daemon]\ncompanies_dir = \"x/..\"", "daemon.companies_dir: must not be the directory of this file"),
        ("[smtp\nhost = 1", "TOML syntax error at line 1"),
        ("[sender]\nname = \"Z\\u0000Q\"", "line 2: a NUL character (\\u0000) is not allowed"),
        ("[sender]\n\nname = \"Z\\U00000000\"", "line 3: a NUL character"),
        ("smtp = 3", "smtp: must be a table [smtp] (got an integer)"),
    ])
    func refusesWithFileKeyAndRule(text: String, expected: String) {
        let dir = ConfigDirectory()
        let issues = dir.issues(text)
        #expect(issues.contains { $0.hasPrefix(dir.path + "/maild.toml: ") && $0.contains(expected) }, "\(issues)")
    }

    @Test func reportsEveryProblemNotOnlyTheFirst() {
        let dir = ConfigDirectory()
        dir.write("companies.d/acme.toml", "enabled = true\nport = 99999\n")
        let issues = dir.issues("[smtp]\ntimeout = 1\nport = -1\n[retry]\nmax_age = \"x\"\n")
        #expect(issues.count == 6, "\(issues)")
        #expect(issues.contains { $0.contains("acme.toml: host: is required when enabled = true") })
        #expect(issues.contains { $0.contains("acme.toml: sender: is required when enabled = true") })
    }

    @Test func companyFilesStartFromBuiltInDefaultsNeverTheGlobalValues() throws {
        let dir = ConfigDirectory()
        dir.write("companies.d/acme.toml", "enabled = true\nhost = \"smtp.acme.example\"\nsender = \"noreply@acme.example\"\n")
        dir.write("companies.d/beta.toml", "enabled = false\nsender = \"beta@beta.example\"\n")
        let c = try dir.load(
            "[smtp]\nhost = \"global.example\"\nport = 465\nsecurity = \"tls\"\nauth = true\nusername = \"g\"\npassword = \"global-secret\"\ngroup = false\ntimeout = 30\n")
        let acme = c.companies["acme"]!
        #expect(acme.policy.relay == RelaySettings(host: "smtp.acme.example"))
        #expect(acme.policy.relay.password.isEmpty && acme.policy.group)
        #expect(c.policy(for: "acme").relay.host == "smtp.acme.example")
        #expect(c.policy(for: "beta").relay.host == "global.example")
        #expect(c.policy(for: "nobody").relay.host == "global.example")
        #expect(c.policy(for: nil).relay.host == "global.example")
        #expect(c.enabledCompanies == ["acme"])
    }

    @Test func warnsAboutReadableSecretsAndDisabledVerification() throws {
        let dir = ConfigDirectory()
        dir.write("open.secret", "pw\n", mode: 0o644)
        let c = try dir.load(
            "[smtp]\nsecurity = \"tls\"\nauth = true\nusername = \"u\"\npassword_file = \"open.secret\"\ntls_verify = false\n")
        #expect(c.warnings.contains { $0.contains("readable by group or others") })
        #expect(c.warnings.contains { $0.contains("tls_verify is false") })
        #expect(!c.warnings.joined().contains("pw"))
    }

    @Test func readsPasswordsFromTheCredentialsDirectory() throws {
        let dir = ConfigDirectory()
        dir.write("cred-smtp", "from-systemd\n", mode: 0o600)
        let c = try dir.load(
            "[smtp]\nsecurity = \"tls\"\nauth = true\nusername = \"u\"\npassword_file = \"$CREDENTIALS_DIRECTORY/cred-smtp\"\n",
            environment: ["CREDENTIALS_DIRECTORY": dir.path])
        #expect(c.smtp.relay.password.reveal() == "from-systemd")
        let missing = ConfigDirectory()
        #expect(
            missing.issues("[smtp]\npassword_file = \"$CREDENTIALS_DIRECTORY/x\"\n").contains {
                $0.contains("CREDENTIALS_DIRECTORY, which is not set")
            })
    }

    @Test func refusesACAFileWithoutACertificate() throws {
        let dir = ConfigDirectory()
        dir.write("garbage.pem", "garbage\n")
        dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        #expect(
            dir.issues("[smtp]\nsecurity = \"tls\"\nca_file = \"garbage.pem\"\n").contains {
                $0.hasSuffix("maild.toml: smtp.ca_file: \(dir.path)/garbage.pem holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
            })
        #expect(dir.issues("[smtp]\nca_file = \"missing.pem\"\n").contains { $0.contains("smtp.ca_file: cannot read") })
        let c = try dir.load("[smtp]\nsecurity = \"tls\"\nca_file = \"ca.pem\"\n")
        #expect(c.smtp.relay.caFile == dir.path + "/ca.pem")
    }

    @Test func warnsWhenTheCompaniesDirectoryCannotBeRead() throws {
        let dir = ConfigDirectory()
        let c = try dir.load("[daemon]\ncompanies_dir = \"companys.d\"\n")
        #expect(
            c.warnings == [
                "\(dir.path)/maild.toml: daemon.companies_dir \(dir.path)/companys.d cannot be read "
                    + "(No such file or directory): no company files are loaded"
            ])
        #expect(try dir.load("[daemon]\ncompanies_dir = \"companies.d\"\n").warnings.isEmpty)
    }

    @Test func warnsWhenOneRelayMayTakeEveryConnection() throws {
        let dir = ConfigDirectory()
        let c = try dir.load("[daemon]\nmax_connections = 8\nrelay_connections = 8\n")
        #expect(c.warnings.contains { $0.contains("daemon.relay_connections equals max_connections") })
        #expect(try dir.load("[daemon]\nmax_connections = 8\nrelay_connections = 4\n").warnings.isEmpty)
    }

    @Test func refusesBadCompanyFileNames() {
        let dir = ConfigDirectory()
        dir.write("companies.d/-bad.toml", "enabled = false\n")
        #expect(dir.issues("").contains { $0.contains("-bad.toml: file name is not a valid company id") })
    }

    @Test func secretsNeverPrint() {
        let s = Secret("hunter2")
        #expect("\(s)" == "********" && String(describing: [s]) == "[********]" && s.reveal() == "hunter2")
    }
}

@Suite struct NULEscapeTests {
    @Test(arguments: [
        (#"a = "x\u0000""#, 1), ("# c\nb = \"\\U00000000\"", 2), (#"a = "\\u0000""#, nil), (#"a = "\\\u0000""#, 1),
        (#"a = "\u0001""#, nil), (#"a = "\u000""#, nil), (#"a = "é\u00e9""#, nil),
    ] as [(String, Int?)])
    func findsOnlyRealNULEscapes(text: String, line: Int?) {
        #expect(ConfigLoader.lineOfNULEscape(Array(text.utf8)) == line)
    }
}

@Suite struct RelayHostTests {
    @Test(arguments: ["localhost", "smtp.example.com", "127.0.0.1", "::1", "[::1]", "2001:db8::25", "smtp.coração.br", "mail_relay"])
    func acceptsHostNamesAndAddresses(host: String) {
        #expect(RelayKeys.hostProblem(host) == nil)
    }
}
