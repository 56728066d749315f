#if canImport(Glibc)
import Glibc
#endif
import MailCore

/// Why the control socket could not be set up.
public struct ListenerError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// The listening Unix socket of the control protocol. It owns its descriptor.
final class UnixListener: @unchecked Sendable {
    let fd: Int32
    let path: String

    /// Binds `path` with permission bits `mode`. A stale socket file left by a crash is replaced;
    /// a socket on which a live daemon answers is refused.
    init(path: String, mode: UInt32, backlog: Int32 = 1024) throws(ListenerError) {
        self.path = path
        try UnixListener.checkExisting(path)
        try UnixListener.makeParentDirectory(of: path)
        let fd: Int32
        do {
            fd = try systemCall("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        } catch {
            throw ListenerError(description: "cannot create the control socket: \(error)")
        }
        // Bind under a temporary name, set the mode, then rename into place: the socket is never
        // reachable with the wrong permissions, and a stale file is replaced atomically.
        let temporary = "\(path).\(getpid()).tmp"
        unlink(temporary)
        do {
            var address = try UnixListener.address(temporary)
            _ = try withUnsafePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try systemCall("bind \(temporary)") { bind(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
            try systemCall("chmod \(temporary)") { chmod(temporary, mode_t(mode)) }
            try systemCall("listen") { listen(fd, backlog) }
            try systemCall("rename \(temporary) to \(path)") { rename(temporary, path) }
            let flags = try systemCall("fcntl") { fcntl(fd, F_GETFL) }
            try systemCall("fcntl") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        } catch {
            close(fd)
            unlink(temporary)
            throw ListenerError(description: "cannot listen on \(path): \(error)")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Removes the socket file, if it is still ours.
    func unlinkPath() { unlink(path) }

    static func address(_ path: String) throws(ListenerError) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ListenerError(description: "socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    private static func checkExisting(_ path: String) throws(ListenerError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw ListenerError(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return }
        defer { close(probe) }
        var address = try address(path)
        let rc = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if rc == 0 {
            throw ListenerError(description: "another maild is already answering on \(path)")
        }
        // ECONNREFUSED: nobody listens; the file is stale and will be replaced.
    }

    private static func makeParentDirectory(of path: String) throws(ListenerError) {
        var prefix = ""
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        for (i, part) in parts.enumerated() {
            prefix += (i == 0 ? "" : "/") + part
            if prefix.isEmpty { continue }
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw ListenerError(description: "cannot create directory \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// Who is on the other end of a Unix socket (SO_PEERCRED).
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    static func of(_ fd: Int32) -> PeerCredentials? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } — declared by hand: Glibc hides it behind _GNU_SOURCE.
        var cred: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: cred))
        let soPeerCred: Int32 = 17
        guard getsockopt(fd, SOL_SOCKET, soPeerCred, &cred, &length) == 0 else { return nil }
        return PeerCredentials(pid: cred.0, uid: cred.1, gid: cred.2)
    }
}
