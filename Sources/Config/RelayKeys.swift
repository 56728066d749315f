import MailCore

#if canImport(Glibc)
import Glibc
#endif

/// The relay keys shared by `[smtp]` and company files (SPEC §2.1, §2.2), with the built-in defaults.
/// A company file starts from these defaults, never from the global file's values, so a company's
/// relay is never sent the global credentials.
enum RelayKeys {
    /// Why `host` cannot name a relay, or nil: a host name (internationalised labels allowed), an IPv4
    /// address, or an IPv6 address with or without brackets, and no port (`relay:587` is Postfix's
    /// relayhost style, and the port has a key of its own).
    static func hostProblem(_ host: String) -> String? {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.contains(":") {
            var address = in6_addr()
            if inet_pton(AF_INET6, bare, &address) == 1 { return nil }
            if let colon = bare.lastIndex(of: ":"), bare[bare.index(after: colon)...].allSatisfy(\.isNumber) {
                return "must not include a port: give it in port"
            }
            return "must be a host name or an IP address"
        }
        let labels = bare.split(separator: ".", omittingEmptySubsequences: false)
        let valid = !bare.isEmpty && bare.utf8.count <= 253 && host == bare && labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "-" || $0 == "_" }
        }
        return valid ? nil : "must be a host name or an IP address"
    }

    static func read(_ r: inout TableReader, secrets: SecretReader, enabled: Bool) -> RelayPolicy {
        var relay = RelaySettings(host: "localhost")
        relay.host = r.string("host", default: "localhost")
        if let problem = hostProblem(relay.host) { r.issue("host", "\(problem) (got \"\(relay.host)\")") }
        relay.port = r.int("port", default: 25, range: 1...65535)
        relay.security = r.choice("security", default: .none)
        relay.timeout = r.int("timeout", default: 180, range: 10...180)
        let group = r.bool("group", default: true)
        relay.auth = r.bool("auth", default: false)
        relay.username = r.string("username", default: "")
        let password = r.string("password", default: "")
        let passwordFile = r.string("password_file", default: "")
        relay.tlsVerify = r.bool("tls_verify", default: true)
        let caFile = r.string("ca_file", default: "")
        relay.allowPlaintextAuth = r.bool("allow_plaintext_auth", default: false)

        if !password.isEmpty && !passwordFile.isEmpty {
            r.issue("password_file", "set password or password_file, not both")
        }
        if !passwordFile.isEmpty {
            switch secrets.read(passwordFile) {
            case .success(let secret): relay.password = secret
            case .failure(let problem): r.issue("password_file", problem.text)
            }
        } else {
            relay.password = Secret(password)
        }
        if !caFile.isEmpty {
            let path = secrets.resolve(caFile)
            if let problem = secrets.checkCertificates(path) {
                r.issue("ca_file", problem)
            }
            relay.caFile = path
        }
        if enabled && relay.auth {
            if relay.username.isEmpty { r.issue("username", "is required when auth = true") }
            if password.isEmpty && passwordFile.isEmpty {
                r.issue("password", "password or password_file is required when auth = true")
            }
            if relay.security == .none && !relay.allowPlaintextAuth {
                r.issue(
                    "auth",
                    "auth = true with security = \"none\" would send the password in clear text; "
                        + "use security = \"starttls\" or \"tls\", or set allow_plaintext_auth = true")
            }
        }
        if enabled && !relay.tlsVerify && relay.security != .none {
            secrets.warn(r.keyName("tls_verify"), "is false: the relay's certificate and host name are not verified")
        }
        return RelayPolicy(relay: relay, group: group)
    }
}
