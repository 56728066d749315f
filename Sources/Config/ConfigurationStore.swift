import MailCore

/// The configuration in force, shared by the request handlers and the dispatcher. A reload replaces it
/// as a whole (SPEC §2.4: all or nothing); readers take a consistent snapshot.
public final class ConfigurationStore: Sendable {
    private let state: Locked<Configuration>

    public init(_ configuration: Configuration) {
        state = Locked(configuration)
    }

    /// The configuration in force now.
    public var current: Configuration { state.current }

    /// Puts a newly loaded configuration in force.
    public func replace(with configuration: Configuration) {
        state.withLock { $0 = configuration }
    }
}
