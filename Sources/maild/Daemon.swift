#if canImport(Glibc)
import Glibc
#endif
import Config
import Control
import Logging
import MailCore
import MailDispatch
import Outbox
import SMTP

/// The running daemon: composes the outbox, the dispatcher and the control server, and turns signals
/// into reloads and a graceful stop (SPEC §5).
enum Daemon {
    static let version = "0.1.0"
    /// Seconds past the longest relay timeout that a stop waits for the delivery threads.
    static let recordGrace = 5.0

    static func logLevel(_ setting: LogLevelSetting) -> Logger.Level {
        switch setting {
        case .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        }
    }

    /// `STATUS=` text: the queue counts.
    @Sendable static func statusLine(_ counts: [MessageState: Int]) -> String {
        MessageState.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", ")
    }

    /// Raises the soft limit on open files to the hard one (systemd's default soft limit is 1024, its
    /// hard limit far higher): every client of the socket and every relay connection holds a descriptor,
    /// and maild uses poll(2), never select(2), so descriptors above 1024 are fine.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(resource, &limit)
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    static func run(configuration: Configuration, environment: [String: String]) -> Int32 {
        // Signals are taken synchronously by this (main) thread with sigwait; every other thread inherits
        // the mask, so none is interrupted by them.
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGHUP, SIGTERM, SIGINT] { sigaddset(&signals, s) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        // OpenSSL writes with plain write(): a relay that closes must not kill the daemon.
        signal(SIGPIPE, SIG_IGN)
        MemoryTuning.limitMallocArenas()
        raiseDescriptorLimit()

        KeyValueLogHandler.level.withLock { $0 = logLevel(configuration.daemon.logLevel) }
        LoggingSystem.bootstrap { KeyValueLogHandler(label: $0) }
        let logger = Logger(label: "maild")
        let startedAt = monotonicSeconds()
        for warning in configuration.warnings {
            logger.warning("configuration warning", metadata: ["event": "config_warning", "detail": "\(warning)"])
        }

        let outbox: Outbox
        do {
            outbox = try Outbox(path: configuration.daemon.database, policy: configuration.retry, logger: logger)
        } catch {
            logger.critical(
                "cannot open the outbox",
                metadata: ["event": "start_failed", "database": "\(configuration.daemon.database)", "detail": "\(error)"])
            return 1
        }
        // The outbox's files deleted or replaced under it: stop with a failure status, so that systemd
        // (Restart=on-failure) starts maild again on a database that is really there.
        let storageLost = Locked<String?>(nil)
        outbox.onStorageLost { file in
            logger.critical(
                "the outbox database was deleted or replaced while maild was running; new mail is refused, stopping",
                metadata: ["event": "storage_lost", "file": "\(file)"])
            storageLost.withLock { $0 = file }
            kill(getpid(), SIGTERM)
        }
        let store = ConfigurationStore(configuration)
        let dispatcher = Dispatcher(outbox: outbox, configuration: store, logger: logger)
        let server: ControlServer
        do {
            server = try ControlServer(
                path: configuration.daemon.socket, mode: configuration.daemon.socketMode,
                allowedUIDs: configuration.daemon.allowedUIDs, maxLineBytes: configuration.daemon.maxMessageBytes,
                logger: logger)
        } catch {
            logger.critical("cannot open the control socket", metadata: ["event": "start_failed", "detail": "\(error)"])
            outbox.close()
            return 1
        }
        let notifier = SystemdNotifier(environment: environment)
        let reloader = Reloader(
            store: store, dispatcher: dispatcher, server: server, environment: environment, notifier: notifier,
            logger: logger)
        let shuttingDown = Locked(false)
        let router = RequestRouter(
            outbox: outbox, dispatcher: dispatcher, configuration: store, reloader: reloader, environment: environment,
            startedAt: startedAt, logger: logger, shuttingDown: shuttingDown)

        dispatcher.start()
        let serverDone = Latch<Bool>()
        Task.detached {
            await server.run(handler: router)
            serverDone.set(true)
        }
        _ = server.waitUntilServing(seconds: 10)
        let watchdog = Watchdog(
            notifier: notifier, environment: environment,
            heartbeats: {
                [("control", server.heartbeat.current), ("dispatcher", dispatcher.lastHeartbeat),
                 ("outbox", outbox.oldestHeartbeat)]
            },
            status: { (try? outbox.countsBlocking()).map(Daemon.statusLine) })
        notifier?.send("READY=1\nSTATUS=" + ((try? outbox.countsBlocking()).map(statusLine) ?? "ready"))
        watchdog?.start()
        logger.notice(
            "started",
            metadata: [
                "event": "started", "version": "\(version)", "socket": "\(server.path)",
                "database": "\(configuration.daemon.database)", "pid": "\(getpid())",
            ])

        while true {
            var received: Int32 = 0
            sigwait(&signals, &received)
            if received == SIGHUP {
                _ = reloader.reload()
                continue
            }
            break
        }

        notifier?.send("STOPPING=1")
        watchdog?.close()
        logger.notice("stopping", metadata: ["event": "stopping"])
        shuttingDown.withLock { $0 = true }
        server.stop()
        // In-flight transactions finish within the longest relay timeout (SPEC §5): by then every SMTP
        // wait ends, a final-dot reply's too, and a few seconds more let such an attempt be recorded as
        // deferred and uncertain.
        let config = store.current
        let longest = ([config.smtp] + config.companies.values.map(\.policy)).map(\.relay.timeout).max() ?? 180
        let stopAt = monotonicSeconds() + Double(longest)
        WaitLimit.end(at: stopAt)
        dispatcher.stop(deadline: stopAt + Daemon.recordGrace)
        _ = serverDone.wait(seconds: 30)
        outbox.close()
        logger.notice("stopped", metadata: ["event": "stopped"])
        return storageLost.current == nil ? 0 : 1
    }
}
