import MailCore

/// Why a read, a write or a handshake did not complete.
enum TransportError: Error, Sendable, Equatable {
    /// The deadline passed first.
    case timedOut
    /// The relay closed or reset the connection under a write (EPIPE, ECONNRESET).
    case closed
    /// A system call failed, e.g. "send: Broken pipe".
    case io(String)
    /// TLS failed; the reason already includes OpenSSL's error queue.
    case tls(String)
}

/// A byte stream to the relay: plain TCP, or TLS over the same socket. The SMTP conversation is
/// carried out over it by `SMTPConnection`; a transport knows nothing about SMTP.
protocol Transport: AnyObject {
    /// Reads what is available (waiting until `deadline` for at least one byte); 0 at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Double) throws(TransportError) -> Int
    /// Writes every byte. Each wait for buffer space is bounded by `stallTimeout` seconds (progress
    /// resets it, so a large message is not cut off by a per-command timeout) and by `deadline`.
    func write(_ bytes: [UInt8], stallTimeout: Double, deadline: Double?) throws(TransportError)
    /// Ends the stream (a TLS close_notify where possible) and closes the socket; idempotent.
    func close()
}

extension Transport {
    /// The deadline of the next wait during a write.
    func stallDeadline(_ stallTimeout: Double, _ deadline: Double?, now: Double) -> Double {
        min(now + stallTimeout, deadline ?? .infinity)
    }
}

/// Runs a socket call, reporting a failed system call as a transport error: the relay resetting the
/// connection is its closing it (a reset after our write to a closed socket is the usual case).
func io<T>(_ body: () throws(SystemCallError) -> T) throws(TransportError) -> T {
    do {
        return try body()
    } catch  where error.isPeerGone {
        throw .closed
    } catch {
        throw .io(error.description)
    }
}
