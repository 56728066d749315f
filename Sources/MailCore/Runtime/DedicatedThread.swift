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
    /// Returns a latch set when `body` returns. For the daemon's own threads, made at start-up: a failure
    /// to create one is fatal.
    @discardableResult
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> Latch<Bool> {
        guard let done = tryStart(name: name, body) else { preconditionFailure("pthread_create failed: \(errno)") }
        return done
    }

    /// `start` for threads made on request (a connection test, a reload): nil, with errno set, when the
    /// system has no thread left to give (RLIMIT_NPROC, TasksMax=, memory), and `body` does not run.
    public static func tryStart(name: String, _ body: @escaping @Sendable () -> Void) -> Latch<Bool>? {
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
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            errno = rc
            return nil
        }
        return done
    }
}
