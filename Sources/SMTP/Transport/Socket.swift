import MailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one owner of a non-blocking TCP socket descriptor: closes it in `deinit` unless closed before.
/// Every wait is a `poll` bounded by an absolute `monotonicSeconds()` deadline, so no call can hang.
final class Socket {
    private(set) var descriptor: Int32

    /// Takes ownership of `descriptor`, which must already be non-blocking.
    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close() }

    var isOpen: Bool { descriptor >= 0 }

    /// Closes the descriptor; idempotent. EINTR from close(2) is not retried: on Linux the descriptor
    /// is released even then, and a retry could close a descriptor another thread just opened.
    func close() {
        guard descriptor >= 0 else { return }
        _ = systemClose(descriptor)
        descriptor = -1
    }

    /// Waits until the socket is ready for `events` (POLLIN/POLLOUT), or an error or hang-up is
    /// pending (the next call reports it). Returns false when `deadline` (or the process's `WaitLimit`)
    /// passed first.
    func wait(for events: Int16, until deadline: Double) throws(SystemCallError) -> Bool {
        var fds = pollfd(fd: descriptor, events: events, revents: 0)
        while true {
            var expired = false
            let ready = try systemCall("poll") { () -> Int32 in
                let remaining = min(deadline, WaitLimit.current) - monotonicSeconds()
                if remaining <= 0 {
                    expired = true
                    return 0
                }
                return poll(&fds, 1, Int32((min(remaining, WaitLimit.slice) * 1000).rounded(.up)))
            }
            if expired { return false }
            if ready > 0 { return true }
        }
    }

    /// One `recv`: the number of bytes read (0 at an orderly close), or nil when nothing is there yet.
    func receive(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int? {
        do {
            return try systemCall("recv") { recv(descriptor, buffer.baseAddress, buffer.count, 0) }
        } catch  where error.wouldBlock {
            return nil
        }
    }

    /// One `send` (MSG_NOSIGNAL: a closed peer is an EPIPE error, not a SIGPIPE that kills the daemon):
    /// the number of bytes the kernel took, or nil when its buffer is full.
    func send(_ buffer: UnsafeRawBufferPointer) throws(SystemCallError) -> Int? {
        do {
            return try systemCall("send") { systemSend(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
        } catch  where error.wouldBlock {
            return nil
        }
    }

    /// Reads and drops whatever has already arrived, without waiting; returns how many bytes that was.
    /// Used before a STARTTLS handshake (RFC 3207 §4.2, §6): nothing the relay sent in plaintext after
    /// its 220 may be taken as part of the encrypted session.
    func discardPending() -> Int {
        var dropped = 0
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = scratch.withUnsafeMutableBytes { raw in
                (try? systemCall("recv") { recv(descriptor, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT)) }) ?? 0
            }
            if n <= 0 { return dropped }
            dropped += n
        }
    }

    /// Sets an integer socket option.
    func setOption(level: Int32, name: Int32, value: Int32) throws(SystemCallError) {
        var value = value
        try systemCall("setsockopt") {
            setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }
}

// The methods above shadow these C functions by name.
private func systemClose(_ descriptor: Int32) -> Int32 { close(descriptor) }
private func systemSend(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    send(descriptor, bytes, count, flags)
}
