#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: its name and `errno`, worded as `recv: Connection reset by peer`.
struct SyscallError: Error, Sendable, CustomStringConvertible {
    var call: String
    var errno: Int32

    var description: String { "\(call): \(String(cString: strerror(errno)))" }

    /// The call would have blocked on a non-blocking descriptor: wait with `poll` and try again.
    var wouldBlock: Bool { errno == EAGAIN || errno == EWOULDBLOCK }

    /// The peer closed or reset the connection.
    var isPeerGone: Bool { errno == ECONNRESET || errno == EPIPE }
}

/// The one place that runs a system call: retries it while it fails with `EINTR` (a signal arrived;
/// nothing happened) and turns any other `-1` into a `SyscallError` naming the call. `body` is
/// evaluated again on each retry, so a timeout computed inside it stays accurate.
@discardableResult
func syscall<Result: FixedWidthInteger>(_ name: String, _ body: () -> Result) throws(SyscallError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SyscallError(call: name, errno: code)
    }
}
