#if canImport(Glibc)
import Glibc
#endif
import MailCore

/// Why mailctl could not get an answer.
enum ClientError: Error, CustomStringConvertible {
    /// The daemon is not there (no socket, nobody listening).
    case unreachable(String)
    /// The socket is there but this user may not connect to it.
    case forbidden(String)
    /// The connection broke or the answer was not JSON.
    case protocolFailure(String)

    var description: String {
        switch self {
        case .unreachable(let s), .forbidden(let s), .protocolFailure(let s): return s
        }
    }

    /// The sysexits.h status it ends mailctl with.
    var exitStatus: Int32 {
        switch self {
        case .unreachable: return ExitStatus.unavailable
        case .forbidden: return ExitStatus.noPermission
        case .protocolFailure: return ExitStatus.tempFail
        }
    }
}

/// A blocking client of maild's socket: one request line out, one answer line in.
final class Client {
    let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []

    /// The socket: `--socket`, else `$MAILD_SOCKET`, else `/run/maild/maild.sock` (SPEC §1).
    static func socketPath(_ option: String?) -> String {
        if let option, !option.isEmpty { return option }
        if let env = getenv("MAILD_SOCKET"), env.pointee != 0 { return String(cString: env) }
        return "/run/maild/maild.sock"
    }

    init(path: String) throws(ClientError) {
        self.path = path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .unreachable("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw .unreachable("socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if rc != 0 {
            let error = errno
            let reason = String(cString: strerror(error))
            close(fd)
            if error == EACCES || error == EPERM {
                throw .forbidden(
                    "cannot connect to maild at \(path): \(reason) (the socket is for the maild group: "
                        + "add this user to it, e.g. usermod -aG maild USER)")
            }
            throw .unreachable("cannot connect to maild at \(path): \(reason) (is maild running? see --socket, $MAILD_SOCKET)")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Sends one request and returns its answer.
    func request(_ request: JSONValue) throws(ClientError) -> JSONValue {
        var line = request.serialized()
        line.append(0x0A)
        var offset = 0
        while offset < line.count {
            let n = line.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .protocolFailure("lost the connection to maild: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        let answer = try readLine()
        do {
            return try JSONParser.parse(answer)
        } catch {
            throw .protocolFailure("maild answered something that is not JSON: \(error)")
        }
    }

    private func readLine() throws(ClientError) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                return line
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .protocolFailure("lost the connection to maild: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw .protocolFailure("maild closed the connection without answering") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}

/// Sends one request to the daemon at `socket` and returns its answer.
func exchange(_ request: JSONValue, socket: String?) throws(ClientError) -> JSONValue {
    try Client(path: Client.socketPath(socket)).request(request)
}
