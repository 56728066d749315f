import MailCore

/// How much maild logs (`[daemon] log_level`).
public enum LogLevelSetting: String, Sendable, CaseIterable {
    case debug, info, notice, warning, error
}

/// `[daemon]`: where maild listens and stores, and its limits.
public struct DaemonSettings: Sendable, Equatable {
    public var socket: String = "/run/maild/maild.sock"
    public var socketMode: UInt32 = 0o660
    /// Peers allowed besides root and maild's own uid; empty = anyone who can open the socket.
    public var allowedUIDs: [UInt32] = []
    public var database: String = "/var/lib/maild/outbox.db"
    public var companiesDir: String = "companies.d"
    /// The name sent in EHLO; "" in the file means this host's name, resolved at load.
    public var heloName: String = ""
    public var maxMessageBytes: Int = 26_214_400
    public var maxConnections: Int = 8
    public var relayConnections: Int = 4
    /// Seconds a sent, failed or cancelled message is kept.
    public var retention: Int = 604_800
    public var logLevel: LogLevelSetting = .info

    public init() {}
}

/// `on_behalf`: how a user's message names the user when the default sender is not forced.
public enum OnBehalf: String, Sendable, CaseIterable {
    /// From: the user.
    case from
    /// From: the default sender with the user's name; Reply-To: the user.
    case replyTo = "reply_to"
}

/// `[sender]`: the default sender and how user mail is sent.
public struct SenderSettings: Sendable, Equatable {
    public var defaultSender: Bool = true
    public var address: EmailAddress
    public var name: String = ""
    public var allNotifications: Bool = false
    public var onBehalf: OnBehalf = .from

    public init(address: EmailAddress) { self.address = address }
}

/// The relay settings of a file (`[smtp]` or a company file) plus its grouping switch.
public struct RelayPolicy: Sendable, Equatable {
    public var relay: RelaySettings
    /// true: delivered in batches every 2 s; false: each message at once on its own connection.
    public var group: Bool

    public init(relay: RelaySettings, group: Bool) {
        self.relay = relay
        self.group = group
    }
}

/// A company file (`companies.d/<id>.toml`).
public struct CompanySettings: Sendable, Equatable {
    public var id: String
    public var file: String
    /// When true, this file's relay settings govern the company's messages entirely.
    public var enabled: Bool
    public var policy: RelayPolicy
    public var sender: EmailAddress?
    public var senderName: String?

    public init(id: String, file: String, enabled: Bool, policy: RelayPolicy, sender: EmailAddress?, senderName: String?) {
        self.id = id
        self.file = file
        self.enabled = enabled
        self.policy = policy
        self.sender = sender
        self.senderName = senderName
    }
}
