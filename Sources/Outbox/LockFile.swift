#if canImport(Glibc)
import Glibc
#endif

/// An exclusive flock(2) on `<database>.lock`, held while the daemon runs, so a second maild on the
/// same database refuses to start. The kernel releases it when the process dies, so a crash never
/// leaves a stale lock.
final class LockFile: Sendable {
    private let fd: Int32

    init(path: String) throws(OutboxError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .unavailable("cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            var holder = [UInt8](repeating: 0, count: 32)
            let n = holder.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            close(fd)
            let pid = n > 0 ? String(decoding: holder[0..<n], as: UTF8.self).trimmingCharacters : "?"
            if busy {
                throw .unavailable("another maild (pid \(pid)) is using this outbox; lock \(path) is held")
            }
            throw .unavailable("cannot lock \(path): \(String(cString: strerror(errno)))")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    deinit { close(fd) }
}

extension String {
    fileprivate var trimmingCharacters: String {
        String(self.unicodeScalars.filter { $0.properties.isWhitespace == false })
    }
}
