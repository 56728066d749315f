import MailCore

/// The lines of one session as a person reads them (the `test` request's answer, SPEC §3):
/// "C: EHLO x", "S: 250-…", "-- TLS established: …". Secrets are masked before they get here;
/// message data appears only as its size. Safe to read from another thread while a session appends.
public final class Transcript: @unchecked Sendable {
    private let lock = ConditionLock()
    private var storage: [String] = []

    public init() {}

    /// Adds one line.
    public func append(_ line: String) {
        lock.withLock { storage.append(line) }
    }

    /// Every line so far, oldest first.
    public var lines: [String] { lock.withLock { storage } }
}
