import MailCore

/// How to reach a relay and how long to wait for it.
public struct SMTPClientOptions: Sendable {
    /// Relay, security, credentials and `timeout` (connect, TLS handshake, each reply).
    public var relay: RelaySettings
    /// The name sent in EHLO/HELO (SPEC §2.1 `helo_name`).
    public var heloName: String
    /// Seconds to wait for the reply to the final dot: RFC 5321 §4.5.3.2.6 asks for 10 minutes,
    /// since giving up sooner makes duplicates likely.
    public var finalReplyTimeout: Double = 600
    /// An absolute `monotonicSeconds()` bounding the whole session (the connection test).
    public var deadline: Double? = nil

    public init(relay: RelaySettings, heloName: String, finalReplyTimeout: Double = 600, deadline: Double? = nil) {
        self.relay = relay
        self.heloName = heloName
        self.finalReplyTimeout = finalReplyTimeout
        self.deadline = deadline
    }
}
