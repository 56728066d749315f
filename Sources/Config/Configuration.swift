import MailCore

/// The whole validated configuration: the global file and every company file, loaded together.
public struct Configuration: Sendable, Equatable {
    /// Path of the global file.
    public var path: String
    public var daemon: DaemonSettings
    /// The global relay (`[smtp]`).
    public var smtp: RelayPolicy
    public var sender: SenderSettings
    public var retry: RetryPolicy
    /// Company files by id, enabled or not.
    public var companies: [String: CompanySettings]
    /// Things worth an administrator's attention that do not stop loading (tls_verify = false, …).
    public var warnings: [String]
    public var loadedAt: Timestamp

    public init(
        path: String, daemon: DaemonSettings, smtp: RelayPolicy, sender: SenderSettings, retry: RetryPolicy,
        companies: [String: CompanySettings], warnings: [String], loadedAt: Timestamp
    ) {
        self.path = path
        self.daemon = daemon
        self.smtp = smtp
        self.sender = sender
        self.retry = retry
        self.companies = companies
        self.warnings = warnings
        self.loadedAt = loadedAt
    }

    /// Ids of companies whose file is enabled, sorted.
    public var enabledCompanies: [String] { companies.values.filter(\.enabled).map(\.id).sorted() }

    /// The settings that govern a message of `company` (SPEC §2.3): the company's own when its file is
    /// enabled, otherwise the global `[smtp]`.
    public func policy(for company: String?) -> RelayPolicy {
        if let company, let settings = companies[company], settings.enabled { return settings.policy }
        return smtp
    }

    /// The default sender D of a message of `company` (SPEC §2.3).
    public func defaultSender(for company: String?) -> Mailbox {
        let file = company.flatMap { companies[$0] }
        if let file, file.enabled, let address = file.sender {
            return Mailbox(displayName: file.senderName ?? sender.name, address: address)
        }
        if sender.defaultSender {
            return Mailbox(displayName: sender.name, address: sender.address)
        }
        if let file, let address = file.sender {
            return Mailbox(displayName: file.senderName ?? sender.name, address: address)
        }
        return Mailbox(displayName: sender.name, address: sender.address)
    }
}
