/// A secret (a password) that prints as asterisks, so it cannot reach a log line, an error or an answer
/// by accident. `reveal()` is called only where the secret goes on the wire.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String

    public init(_ value: String) { self.value = value }

    public func reveal() -> String { value }
    public var isEmpty: Bool { value.isEmpty }
    public var description: String { value.isEmpty ? "" : "********" }
    public var debugDescription: String { description }
}

/// How a connection to the relay is secured (SPEC §2.1 `security`).
public enum TransportSecurity: String, Sendable, Hashable, CaseIterable {
    /// Plain TCP.
    case none
    /// Plain TCP upgraded with STARTTLS, which the relay must offer.
    case starttls
    /// TLS from the first byte (port 465 style).
    case tls
}

/// Everything needed to talk to one relay.
public struct RelaySettings: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var security: TransportSecurity
    /// Seconds bounding connect, the TLS handshake and each reply wait (10...180).
    public var timeout: Int
    public var auth: Bool
    public var username: String
    public var password: Secret
    public var tlsVerify: Bool
    /// Extra trust anchors (PEM), or nil for the system store only.
    public var caFile: String?
    public var allowPlaintextAuth: Bool

    public init(
        host: String, port: Int = 25, security: TransportSecurity = .none, timeout: Int = 180, auth: Bool = false,
        username: String = "", password: Secret = Secret(""), tlsVerify: Bool = true, caFile: String? = nil,
        allowPlaintextAuth: Bool = false
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.timeout = timeout
        self.auth = auth
        self.username = username
        self.password = password
        self.tlsVerify = tlsVerify
        self.caFile = caFile
        self.allowPlaintextAuth = allowPlaintextAuth
    }

    /// `host:port`, for logs and attempt records (`[::1]:25` for IPv6 literals).
    public var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Messages whose relays have the same key share connections in grouped mode (SPEC §4), a relay's
    /// connection limit and its back-off after a failure.
    public var key: RelayKey {
        var normalised = self
        normalised.host = host.lowercased()
        return RelayKey(settings: normalised)
    }
}

/// What makes two relays "the same" for connection sharing: every setting of the connection, not only
/// where it goes. Two companies on one host with different passwords, certificate checks or timeouts
/// log in and verify on connections of their own: a message is never sent under another company's
/// login, nor over a connection that checked less than its settings ask.
public struct RelayKey: Sendable, Hashable, CustomStringConvertible {
    let settings: RelaySettings

    public var host: String { settings.host }
    public var port: Int { settings.port }

    /// `user@host:port` (never the password).
    public var description: String {
        settings.username.isEmpty ? settings.endpoint : "\(settings.username)@\(settings.endpoint)"
    }
}
