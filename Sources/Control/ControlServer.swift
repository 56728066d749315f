#if canImport(Glibc)
import Glibc
#endif
import Logging
import MailCore

/// Answers the request lines of the control protocol.
public protocol ControlHandler: Sendable {
    /// Called on the poll thread for each request line: it must not block. It answers by calling `reply`
    /// once, at once or later from any thread (after a commit, or from a task for slower requests).
    func handle(line: [UInt8], peer: PeerCredentials?, reply: ControlReply)
}

/// The way to answer one request: call it once with the answer line, newline included.
public struct ControlReply: Sendable {
    let server: ControlServer
    let connection: Int
    let sequence: UInt64

    public func callAsFunction(_ line: [UInt8]) {
        server.complete(connection: connection, sequence: sequence, line: line)
    }
}

/// The Unix-socket server of SPEC §3: JSON lines in, JSON lines out, in request order.
///
/// One dedicated thread owns every socket and multiplexes them with poll(2), so a slow client never
/// holds up the others and no socket call runs on Swift's cooperative pool. The handler sees each
/// complete line on that thread and answers through a `ControlReply`; answers come back to the poll
/// thread through a completion queue and a self-pipe, and go out in request order.
public final class ControlServer: Sendable {
    struct Completion {
        let connection: Int
        let sequence: UInt64
        let line: [UInt8]
    }

    struct Shared {
        var completions: [Completion] = []
        var stopping = false
    }

    let listener: UnixListener
    /// A self-pipe: other threads write a byte to wake the poll loop.
    let wakeFD: Int32
    private let wakeWriteFD: Int32
    /// Who may use the socket and how long a line may be: replaced by `update` on a reload.
    struct Access {
        var allowedUIDs: Set<UInt32>
        var maxLineBytes: Int
    }

    let access: Locked<Access>
    let shared = Locked(Shared())
    let logger: Logger
    /// Monotonic seconds of the poll loop's last turn, for the watchdog.
    public let heartbeat = Locked<Double>(monotonicSeconds())
    /// Set once the poll loop serves the socket.
    let serving = Latch<Bool>()

    /// Binds the socket (see `UnixListener`); `run` serves it.
    public init(
        path: String, mode: UInt32, allowedUIDs: [UInt32], maxLineBytes: Int, logger: Logger
    ) throws(ListenerError) {
        listener = try UnixListener(path: path, mode: mode)
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { throw ListenerError(description: "pipe: \(String(cString: strerror(errno)))") }
        for fd in pipeFDs {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeFD = pipeFDs[0]
        wakeWriteFD = pipeFDs[1]
        access = Locked(Access(allowedUIDs: Set(allowedUIDs), maxLineBytes: maxLineBytes))
        self.logger = logger
    }

    /// Applies a reloaded configuration's socket settings: the socket file's mode at once, the allowed
    /// uids and the line limit from the next request on (a connection whose peer is no longer allowed
    /// gets `forbidden` at its next request, and is closed). Throws when the mode cannot be set; the
    /// rest is applied anyway.
    public func update(mode: UInt32, allowedUIDs: [UInt32], maxLineBytes: Int) throws(ListenerError) {
        access.withLock { $0 = Access(allowedUIDs: Set(allowedUIDs), maxLineBytes: maxLineBytes) }
        wake()
        if chmod(listener.path, mode_t(mode)) != 0 {
            throw ListenerError(
                description: "cannot set the mode of \(listener.path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        close(wakeFD)
        close(wakeWriteFD)
    }

    public var path: String { listener.path }

    /// Serves clients until `stop()`, then returns once every request read has been answered (or the
    /// stop's grace period has passed).
    public func run(handler: some ControlHandler) async {
        let pollDone = Latch<Bool>()
        DedicatedThread.start(name: "control-poll") { [self] in
            var loop = PollLoop(server: self, handler: handler)
            loop.run()
            pollDone.set(true)
        }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DedicatedThread.start(name: "control-join") {
                _ = pollDone.wait()
                done.resume()
            }
        }
    }

    /// Blocks (a dedicated thread) until the poll loop serves the socket, or `seconds` pass.
    public func waitUntilServing(seconds: Double) -> Bool { serving.wait(seconds: seconds) ?? false }

    /// Stops accepting connections and reading requests; the requests already read are still answered.
    public func stop() {
        shared.withLock { $0.stopping = true }
        wake()
    }

    func complete(connection: Int, sequence: UInt64, line: [UInt8]) {
        let first = shared.withLock { state -> Bool in
            state.completions.append(Completion(connection: connection, sequence: sequence, line: line))
            return state.completions.count == 1
        }
        if first { wake() }
    }

    private func wake() {
        var one: UInt8 = 1
        _ = write(wakeWriteFD, &one, 1)
    }
}
