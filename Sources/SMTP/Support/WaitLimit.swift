import MailCore

/// A time by which every wait of every SMTP connection of this process ends, as if it had timed out.
/// Infinite until the daemon stops: SPEC §5 lets the transactions in flight finish within `timeout`
/// seconds, and a delivery still waiting then for its final-dot reply (which may take 10 minutes) gives
/// up, so that it is recorded as deferred and uncertain instead of being cut off by the exit.
public enum WaitLimit {
    private static let limit = Locked<Double>(.infinity)

    /// From now on no wait lasts past `deadline` (monotonic seconds).
    public static func end(at deadline: Double) { limit.withLock { $0 = min($0, deadline) } }

    static var current: Double { limit.current }

    /// Longest single poll: a limit set while a connection waits is seen within this many seconds.
    static let slice = 1.0
}
