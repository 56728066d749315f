#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: its name and errno, worded by strerror.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno)))" }

    /// The call would have blocked on a non-blocking descriptor: wait with `poll` and try again.
    public var wouldBlock: Bool { errno == EAGAIN || errno == EWOULDBLOCK }

    /// The peer closed or reset the connection.
    public var isPeerGone: Bool { errno == ECONNRESET || errno == EPIPE }
}

/// Runs a system call, retrying on EINTR, and throws its errno with its name when it fails (returns -1).
/// The one place where `if rc < 0` is written (swift-nio's System.swift does the same).
@discardableResult
@inline(__always)
public func systemCall<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemCallError)
    -> T
{
    while true {
        let rc = body()
        if rc != -1 { return rc }
        let error = errno
        if error == EINTR { continue }
        throw SystemCallError(call: name(), errno: error)
    }
}
