#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex with a condition variable, for the dedicated threads that do blocking work (SQLite, sockets).
/// Never wait on it from Swift's cooperative pool.
public final class ConditionLock: @unchecked Sendable {
    fileprivate let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = makeMonotonicCondition()

    public init() {
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits for a signal; the lock must be held.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits for a signal or until `seconds` pass; the lock must be held. Returns false on timeout.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 + max(0, seconds)
        var deadline = timespec()
        deadline.tv_sec = Int(total)
        deadline.tv_nsec = Int((total - Double(Int(total))) * 1e9)
        return pthread_cond_timedwait(condition, mutex, &deadline) == 0
    }

    public func signal() { pthread_cond_signal(condition) }
    public func broadcast() { pthread_cond_broadcast(condition) }

    /// Another condition variable on this lock's mutex, for a second kind of waiter: a signal meant for
    /// one kind then does not wake the other.
    public func makeCondition() -> Condition { Condition(lock: self) }

    public final class Condition: @unchecked Sendable {
        private let lock: ConditionLock
        private let condition = makeMonotonicCondition()

        fileprivate init(lock: ConditionLock) {
            self.lock = lock
        }

        deinit {
            pthread_cond_destroy(condition)
            condition.deallocate()
        }

        /// Waits for a signal; the lock must be held.
        public func wait() { pthread_cond_wait(condition, lock.mutex) }
        public func signal() { pthread_cond_signal(condition) }
        public func broadcast() { pthread_cond_broadcast(condition) }
    }
}

/// A condition variable whose timed waits use the monotonic clock (a wall-clock step must not cut a
/// wait short or stretch it).
private func makeMonotonicCondition() -> UnsafeMutablePointer<pthread_cond_t> {
    let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    var attributes = pthread_condattr_t()
    pthread_condattr_init(&attributes)
    #if os(Linux)
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
    #endif
    pthread_cond_init(condition, &attributes)
    pthread_condattr_destroy(&attributes)
    return condition
}

/// A one-shot value that one thread sets and another waits for.
public final class Latch<Value: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value?

    public init() {}

    public func set(_ newValue: Value) {
        lock.withLock {
            if value == nil { value = newValue }
            lock.broadcast()
        }
    }

    /// Blocks the calling (dedicated) thread until the value is set.
    public func wait() -> Value {
        lock.withLock {
            while value == nil { lock.wait() }
            return value!
        }
    }

    /// Blocks until the value is set or `seconds` pass.
    public func wait(seconds: Double) -> Value? {
        let deadline = monotonicSeconds() + seconds
        return lock.withLock {
            while value == nil {
                let left = deadline - monotonicSeconds()
                if left <= 0 { break }
                lock.wait(seconds: left)
            }
            return value
        }
    }

    public var isSet: Bool { lock.withLock { value != nil } }
}

/// A value guarded by a lock, shared between threads.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try lock.withLock { try body(&value) }
    }

    public var current: Value { lock.withLock { value } }
}
