internal import COpenSSL
import MailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TLS over the relay's socket with OpenSSL: the one owner of its `SSL`. The socket stays owned by
/// its `Socket` (SSL_set_fd does not close it); the context is kept alive for the session's life.
final class TLSTransport: Transport {
    private let socket: Socket
    private let context: TLSContext
    private let ssl: OpaquePointer
    /// The name (or address) the certificate must match, without IPv6 brackets.
    private let peerName: String
    /// After a fatal error OpenSSL forbids SSL_shutdown, and before the handshake it is pointless.
    private var mayShutDown = false

    /// Prepares a client session on `socket`: SNI for host names (RFC 6066 §3 excludes literals),
    /// and, when the context verifies, the name or IP address the certificate must carry.
    init(socket: Socket, context: TLSContext, host: String) throws(TransportError) {
        guard let ssl = SSL_new(context.pointer) else {
            throw .tls("cannot create a TLS session: \(OpenSSLErrors.describe(OpenSSLErrors.drain(), fallback: "?"))")
        }
        self.ssl = ssl
        self.socket = socket
        self.context = context
        self.peerName = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard SSL_set_fd(ssl, socket.descriptor) == 1 else { throw setupFailure("cannot attach TLS to the socket") }
        let isLiteral = AddressResolver.isIPLiteral(peerName)
        if !isLiteral {
            guard copenssl_set_tlsext_host_name(ssl, peerName) == 1 else { throw setupFailure("cannot set SNI") }
        }
        if context.verifies {
            if isLiteral {
                guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), peerName) == 1 else {
                    throw setupFailure("cannot set the IP address to verify")
                }
            } else {
                SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                guard SSL_set1_host(ssl, peerName) == 1 else {
                    throw setupFailure("cannot set the host name to verify")
                }
            }
        }
    }

    deinit { SSL_free(ssl) }

    /// Runs the client handshake and, when verifying, checks the result explicitly (a certificate was
    /// presented and `SSL_get_verify_result` is X509_V_OK), rather than trusting that the handshake
    /// would have failed. Returns e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384".
    func handshake(deadline: Double) throws(TransportError) -> String {
        let outcome = try run(deadline: { deadline }) { SSL_connect(ssl) }
        if outcome == .closed { throw .tls("relay closed the connection during the TLS handshake") }
        if context.verifies {
            guard let certificate = SSL_get1_peer_certificate(ssl) else {
                throw .tls("certificate verify failed: the relay presented no certificate")
            }
            X509_free(certificate)
            let result = SSL_get_verify_result(ssl)
            guard result == Int(X509_V_OK) else { throw .tls(verifyFailure(result)) }
        }
        mayShutDown = true
        let version = String(cString: SSL_get_version(ssl))
        let cipher = SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } ?? "?"
        return "\(version) \(cipher)"
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Double) throws(TransportError) -> Int {
        var count = 0
        let outcome = try run(deadline: { deadline }) { SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) }
        return outcome == .closed ? 0 : count
    }

    func write(_ bytes: [UInt8], stallTimeout: Double, deadline: Double?) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            var written = 0
            let outcome = try run(deadline: { stallDeadline(stallTimeout, deadline, now: monotonicSeconds()) }) {
                bytes.withUnsafeBytes { raw in
                    SSL_write_ex(ssl, raw.baseAddress! + offset, raw.count - offset, &written)
                }
            }
            if outcome == .closed { throw .closed }
            offset += written
        }
    }

    /// Sends close_notify once, without waiting for the relay's (RFC 8446 §6.1 allows that), and
    /// closes the socket.
    func close() {
        if mayShutDown, socket.isOpen {
            mayShutDown = false
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            _ = OpenSSLErrors.drain()
        }
        socket.close()
    }

    private enum Outcome { case done, closed }

    /// Calls `call` until OpenSSL completes it, polling the socket for whatever OpenSSL wants in between
    /// (a read may need to write and the reverse). Failures are worded with the drained error queue.
    private func run(deadline: () -> Double, _ call: () -> Int32) throws(TransportError) -> Outcome {
        while true {
            ERR_clear_error()
            let rc = call()
            if rc > 0 { return .done }
            let code = SSL_get_error(ssl, rc)
            let events: Int16
            switch code {
            case SSL_ERROR_WANT_READ: events = Int16(POLLIN)
            case SSL_ERROR_WANT_WRITE: events = Int16(POLLOUT)
            case SSL_ERROR_ZERO_RETURN:
                mayShutDown = false
                return .closed
            default:
                let systemError = errno
                mayShutDown = false
                let entries = OpenSSLErrors.drain()
                if context.verifies, !SSL_is_init_finished(ssl).isTrue {
                    let result = SSL_get_verify_result(ssl)
                    if result != Int(X509_V_OK) { throw .tls(verifyFailure(result)) }
                }
                if code == SSL_ERROR_SYSCALL, entries.isEmpty {
                    if systemError == 0 || systemError == ECONNRESET || systemError == EPIPE { return .closed }
                    throw .io("TLS: \(String(cString: strerror(systemError)))")
                }
                if entries.contains(where: \.isUnexpectedEOF) { return .closed }
                let phase = SSL_is_init_finished(ssl).isTrue ? "TLS error" : "TLS handshake failed"
                throw .tls("\(phase): \(OpenSSLErrors.describe(entries, fallback: "SSL error \(code)"))")
            }
            guard try io({ () throws(SystemCallError) in try socket.wait(for: events, until: deadline()) }) else {
                throw .timedOut
            }
        }
    }

    private func verifyFailure(_ result: Int) -> String {
        let text = String(cString: X509_verify_cert_error_string(result))
        if result == Int(X509_V_ERR_HOSTNAME_MISMATCH) || result == Int(X509_V_ERR_IP_ADDRESS_MISMATCH) {
            return "certificate verify failed: \(text) (\(peerName))"
        }
        return "certificate verify failed: \(text)"
    }

    private func setupFailure(_ what: String) -> TransportError {
        .tls("\(what): \(OpenSSLErrors.describe(OpenSSLErrors.drain(), fallback: "unknown error"))")
    }
}

extension Int32 {
    fileprivate var isTrue: Bool { self != 0 }
}
