import MailCore

/// Numbers the sessions of this process, 1, 2, 3… (thread-safe: the lock guards `last`).
final class SessionCounter: @unchecked Sendable {
    private let lock = ConditionLock()
    private var last = 0

    func next() -> Int {
        lock.withLock {
            last += 1
            return last
        }
    }
}
