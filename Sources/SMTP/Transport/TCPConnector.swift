import MailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens the TCP connection to a relay: every address in turn, each bounded by the timeout.
enum TCPConnector {
    /// Connects to the first address that accepts. `timeout` bounds each attempt, `deadline` (absolute
    /// monotonic seconds) all of them. The reason of a total failure lists every address's failure.
    static func connect(to addresses: [ResolvedAddress], timeout: Double, deadline: Double?) throws(ConnectError)
        -> (socket: Socket, address: ResolvedAddress)
    {
        var reasons: [String] = []
        var local = false
        for address in addresses {
            let now = monotonicSeconds()
            if let deadline, now >= deadline {
                reasons.append("no time left to connect to \(address)")
                break
            }
            let attemptDeadline = min(now + timeout, deadline ?? .infinity)
            do {
                let socket = try connect(to: address, deadline: attemptDeadline)
                return (socket, address)
            } catch {
                reasons.append(error.reason)
                local = local || error.isLocal
            }
        }
        throw ConnectError(reason: reasons.joined(separator: "; "), isLocal: local)
    }

    /// One non-blocking connect(2) to one address, waited for with poll.
    static func connect(to address: ResolvedAddress, deadline: Double) throws(ConnectError) -> Socket {
        let socket: Socket
        do {
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            socket = Socket(descriptor: try systemCall("socket") { Glibc.socket(address.family, type, 0) })
        } catch {
            // Out of descriptors or memory here: no fault of the relay's.
            let local = [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errno)
            throw ConnectError(reason: "cannot connect to \(address): \(error)", isLocal: local)
        }
        let started = monotonicSeconds()
        var storage = address.storage
        do {
            try withUnsafePointer(to: &storage) { pointer throws(SystemCallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SystemCallError) in
                    _ = try systemCall("connect") { Glibc.connect(socket.descriptor, sa, address.length) }
                }
            }
        } catch  where error.errno == EINPROGRESS {
            do {
                guard try socket.wait(for: Int16(POLLOUT), until: deadline) else {
                    let waited = formatSeconds(monotonicSeconds() - started)
                    throw ConnectError(reason: "timed out after \(waited) s connecting to \(address)")
                }
                var status: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                try systemCall("getsockopt") {
                    getsockopt(socket.descriptor, SOL_SOCKET, SO_ERROR, &status, &length)
                }
                if status != 0 { throw ConnectError(reason: reason(status, address)) }
            } catch let error as ConnectError {
                throw error
            } catch {
                throw ConnectError(reason: "cannot connect to \(address): \(error)")
            }
        } catch {
            throw ConnectError(reason: reason(error.errno, address))
        }
        // Commands and each message go out in few writes already; TCP_NODELAY also keeps the last
        // small segment from waiting for the relay's delayed ACK (~40 ms, see PEERS.md).
        try? socket.setOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
        return socket
    }

    private static func reason(_ code: Int32, _ address: ResolvedAddress) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused by \(address)"
        case ETIMEDOUT: return "timed out connecting to \(address)"
        default: return "cannot connect to \(address): \(String(cString: strerror(code)))"
        }
    }
}
