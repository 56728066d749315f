import Config
import Control
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
    let server: ControlServer
    /// The socket and database the daemon opened at start: a reload cannot change them.
    let running: (socket: String, database: String)
    private let serial = ConditionLock()

    init(
        store: ConfigurationStore, dispatcher: Dispatcher, server: ControlServer, environment: [String: String],
        notifier: SystemdNotifier?, logger: Logger
    ) {
        self.store = store
        self.dispatcher = dispatcher
        self.server = server
        running = (store.current.daemon.socket, store.current.daemon.database)
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
                for (name, inUse, asked) in [
                    ("daemon.socket", running.socket, new.daemon.socket),
                    ("daemon.database", running.database, new.daemon.database),
                ] where inUse != asked {
                    logger.warning(
                        "setting needs a restart",
                        metadata: ["event": "restart_needed", "key": "\(name)", "detail": "still using \(inUse)"])
                }
                store.replace(with: new)
                do {
                    try server.update(
                        mode: new.daemon.socketMode, allowedUIDs: new.daemon.allowedUIDs,
                        maxLineBytes: new.daemon.maxMessageBytes)
                } catch {
                    logger.error(
                        "socket mode not applied", metadata: ["event": "socket_mode_failed", "detail": "\(error)"])
                }
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
