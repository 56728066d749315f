#if canImport(Glibc)
import Glibc
#endif
import MailCore

/// sd_notify(3) implemented directly: datagrams to `$NOTIFY_SOCKET` (a path, or an abstract name when it
/// starts with "@"). Without `$NOTIFY_SOCKET` it sends nothing.
final class SystemdNotifier: Sendable {
    private let fd: Int32
    private let address: [UInt8]

    init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty,
            path.hasPrefix("/") || path.hasPrefix("@")
        else { return nil }
        var bytes = Array(path.utf8)
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        guard bytes.count < 108 else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        self.fd = fd
        address = bytes
    }

    deinit { close(fd) }

    /// Sends one notification, e.g. "READY=1" or "STATUS=…". Failures are ignored: systemd may be gone.
    func send(_ state: String) {
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sa.sun_path) { $0.copyBytes(from: address) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count)
        let payload = Array(state.utf8)
        _ = payload.withUnsafeBytes { body in
            withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
    }

    /// `RELOADING=1` with the monotonic time systemd needs to match it (systemd 253's notify-reload).
    func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let usec = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
        send("RELOADING=1\nMONOTONIC_USEC=\(usec)")
    }
}

/// Sends `WATCHDOG=1` at half of `$WATCHDOG_USEC` — but only while every loop of the daemon has turned
/// recently (the control poll loop, the dispatcher's scheduler, the outbox threads), so a stuck loop
/// lets systemd restart maild. Also keeps `STATUS=` current with the queue counts.
final class Watchdog: Sendable {
    private let notifier: SystemdNotifier
    private let interval: Double
    private let heartbeats: @Sendable () -> [(String, Double)]
    private let status: @Sendable () -> String?
    private let stop = Latch<Bool>()

    init?(
        notifier: SystemdNotifier?, environment: [String: String],
        heartbeats: @escaping @Sendable () -> [(String, Double)], status: @escaping @Sendable () -> String?
    ) {
        guard let notifier else { return nil }
        self.notifier = notifier
        self.heartbeats = heartbeats
        self.status = status
        if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0,
            environment["WATCHDOG_PID"].map({ Int32($0) == getpid() }) ?? true
        {
            interval = usec / 2 / 1_000_000
        } else {
            interval = 0
        }
    }

    func start() {
        let stop = self.stop
        DedicatedThread.start(name: "watchdog") { [self] in
            var nextStatus = 0.0
            while true {
                let period = interval > 0 ? min(interval, 5) : 5
                if stop.wait(seconds: period) != nil { return }
                let now = monotonicSeconds()
                if interval > 0 {
                    // A loop counts as alive when it turned within the watchdog interval (loops turn at least
                    // every second when idle).
                    let limit = max(interval, 2.5)
                    if heartbeats().allSatisfy({ now - $0.1 < limit }) { notifier.send("WATCHDOG=1") }
                }
                if now >= nextStatus, let text = status() {
                    notifier.send("STATUS=\(text)")
                    nextStatus = now + 5
                }
            }
        }
    }

    func close() { stop.set(true) }
}
