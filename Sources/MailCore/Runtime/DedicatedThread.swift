internal import CLinux
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread of its own for blocking work (sockets, SQLite), so it never runs on Swift's cooperative pool.
public enum DedicatedThread {
    private final class Box: @unchecked Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new detached thread named `name` (its first 15 bytes show in top, ps -L, perf).
    /// Returns a latch set when `body` returns.
    @discardableResult
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> Latch<Bool> {
        let done = Latch<Bool>()
        let box = Box(name: name) {
            body()
            done.set(true)
        }
        let context = Unmanaged.passRetained(box).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 1 << 20)
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attributes,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                _ = String(box.name.prefix(15)).withCString { clinux_set_thread_name($0) }
                box.body()
                return nil
            }, context)
        pthread_attr_destroy(&attributes)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return done
    }
}

/// A FIFO of work items for one consumer thread. `popAll` blocks until there is work or the queue is closed.
public final class WorkQueue<Item>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var items: [Item] = []
    private var closed = false

    public init() {}

    /// Adds an item; false when the queue is closed (the item was not added).
    @discardableResult
    public func push(_ item: Item) -> Bool {
        lock.withLock {
            guard !closed else { return false }
            items.append(item)
            if items.count == 1 { lock.signal() }
            return true
        }
    }

    /// Takes every queued item (waiting up to `timeout` seconds for one); empty when closed and drained
    /// or on timeout.
    public func popAll(timeout: Double? = nil) -> [Item] {
        lock.withLock {
            if let timeout {
                let deadline = monotonicSeconds() + timeout
                while items.isEmpty && !closed {
                    let left = deadline - monotonicSeconds()
                    if left <= 0 { break }
                    lock.wait(seconds: left)
                }
            } else {
                while items.isEmpty && !closed { lock.wait() }
            }
            let taken = items
            items.removeAll(keepingCapacity: true)
            return taken
        }
    }

    /// Stops accepting items and wakes the consumer.
    public func close() {
        lock.withLock {
            closed = true
            lock.broadcast()
        }
    }

    public var isClosed: Bool { lock.withLock { closed } }
    public var count: Int { lock.withLock { items.count } }
}

/// Process-wide memory settings.
public enum MemoryTuning {
    /// Limits glibc's malloc arenas (by default up to 8 per core, each keeping freed memory): a few busy
    /// threads do not need more than two, and the daemon's memory stays small.
    public static func limitMallocArenas(to count: Int32 = 2) {
        _ = clinux_limit_malloc_arenas(count)
    }
}
