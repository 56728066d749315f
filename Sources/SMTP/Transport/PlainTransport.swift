import MailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Plain TCP. Holds the socket until a STARTTLS upgrade hands it to a `TLSTransport`.
final class PlainTransport: Transport {
    let socket: Socket

    init(socket: Socket) {
        self.socket = socket
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Double) throws(TransportError) -> Int {
        // A read comes right after a command was sent, so the reply is rarely there yet: wait first, then
        // read, which saves a recv that would only say EAGAIN (two calls per reply instead of three).
        guard try io({ () throws(SystemCallError) in try socket.wait(for: Int16(POLLIN), until: deadline) }) else {
            throw .timedOut
        }
        while true {
            let received: Int?
            do {
                received = try io { () throws(SystemCallError) in try socket.receive(into: buffer) }
            } catch .closed {
                return 0  // a reset reads as the end of the stream
            }
            if let n = received { return n }
            guard try io({ () throws(SystemCallError) in try socket.wait(for: Int16(POLLIN), until: deadline) }) else {
                throw .timedOut
            }
        }
    }

    func write(_ bytes: [UInt8], stallTimeout: Double, deadline: Double?) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            // withUnsafeBytes only rethrows untyped errors, so the outcome comes out as a Result.
            let attempt = bytes.withUnsafeBytes { raw in
                Result { () throws(SystemCallError) in try socket.send(UnsafeRawBufferPointer(rebasing: raw[offset...])) }
            }
            let sent = try io { () throws(SystemCallError) in try attempt.get() }
            if let sent {
                offset += sent
                continue
            }
            let waitUntil = stallDeadline(stallTimeout, deadline, now: monotonicSeconds())
            guard try io({ () throws(SystemCallError) in try socket.wait(for: Int16(POLLOUT), until: waitUntil) }) else {
                throw .timedOut
            }
        }
    }

    func close() {
        socket.close()
    }
}
