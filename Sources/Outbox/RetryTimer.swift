import MailCore

/// Runs closures a little later, on one thread of its own: the commits of delivery outcomes that failed
/// (a full disk, a lock held past the busy timeout) are tried again from here, however many there are.
final class RetryTimer: @unchecked Sendable {
    private let lock = ConditionLock()
    private var pending: [(due: Double, run: @Sendable () -> Void)] = []
    private var closed = false
    private var done: Latch<Bool>?

    init() {
        done = DedicatedThread.start(name: "outbox-retry") { [self] in loop() }
    }

    /// Runs `body` after `seconds`; false (and nothing runs) once closed.
    @discardableResult
    func after(_ seconds: Double, _ body: @escaping @Sendable () -> Void) -> Bool {
        lock.withLock {
            guard !closed else { return false }
            pending.append((monotonicSeconds() + seconds, body))
            lock.signal()
            return true
        }
    }

    private func loop() {
        while true {
            let (due, stop) = lock.withLock { () -> ([@Sendable () -> Void], Bool) in
                while !closed {
                    let now = monotonicSeconds()
                    if pending.contains(where: { $0.due <= now }) { break }
                    if let next = pending.map(\.due).min() { lock.wait(seconds: next - now) } else { lock.wait() }
                }
                let now = monotonicSeconds()
                let ready = pending.filter { $0.due <= now || closed }.map(\.run)
                pending.removeAll { $0.due <= now || closed }
                return (ready, closed)
            }
            for run in due { run() }
            if stop { return }
        }
    }

    /// Runs what is still pending at once (its retry sees the outbox closing) and ends the thread.
    func close() {
        lock.withLock {
            closed = true
            lock.signal()
        }
        _ = done?.wait()
    }
}
