import Config
import Logging
import MailCore
import MailDispatch

/// Re-reads every configuration file (SIGHUP or the `reload` request). All or nothing (SPEC §2.4): on
/// any error the configuration in force stays and every problem is logged and returned.
final class Reloader: Sendable {
    let store: ConfigurationStore
    let dispatcher: Dispatcher
    let environment: [String: String]
    let logger: Logger
    let notifier: SystemdNotifier?
    private let serial = ConditionLock()

    init(
        store: ConfigurationStore, dispatcher: Dispatcher, environment: [String: String], notifier: SystemdNotifier?,
        logger: Logger
    ) {
        self.store = store
        self.dispatcher = dispatcher
        self.environment = environment
        self.notifier = notifier
        self.logger = logger
    }

    /// Blocking (reads files): call from a dedicated thread.
    func reload() -> Result<Configuration, ConfigError> {
        serial.withLock {
            notifier?.reloading()
            defer { notifier?.send("READY=1") }
            let old = store.current
            do throws(ConfigError) {
                let new = try ConfigLoader.load(path: old.path, environment: environment)
                for warning in new.warnings {
                    logger.warning("configuration warning", metadata: ["event": "config_warning", "detail": "\(warning)"])
                }
                for (name, before, after) in [
                    ("daemon.socket", old.daemon.socket, new.daemon.socket),
                    ("daemon.database", old.daemon.database, new.daemon.database),
                ] where before != after {
                    logger.warning(
                        "setting needs a restart",
                        metadata: ["event": "restart_needed", "key": "\(name)", "detail": "still using \(before)"])
                }
                store.replace(with: new)
                KeyValueLogHandler.level.withLock { $0 = Daemon.logLevel(new.daemon.logLevel) }
                dispatcher.configurationChanged()
                logger.notice(
                    "configuration reloaded",
                    metadata: [
                        "event": "reloaded", "companies": "\(new.companies.count)",
                        "enabled": "\(new.enabledCompanies.joined(separator: ","))",
                    ])
                return .success(new)
            } catch {
                for issue in error.issues {
                    logger.error("reload refused", metadata: ["event": "reload_failed", "detail": "\(issue)"])
                }
                return .failure(error)
            }
        }
    }
}
