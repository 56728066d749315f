internal import COpenSSL

/// The one owner of an `SSL_CTX`: client settings shared by the TLS sessions made from it. Not changed
/// after init, so threads may make sessions from it at once (OpenSSL locks what SSL_new touches).
final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// Whether sessions verify the relay's chain and name (`tls_verify`).
    let verifies: Bool

    /// - Parameters:
    ///   - verify: verify the chain against the system store plus `caFile`, and the host name.
    ///   - caFile: extra trust anchors (PEM).
    init(verify: Bool, caFile: String?) throws(TransportError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw .tls("cannot create a TLS context: \(OpenSSLErrors.describe(OpenSSLErrors.drain(), fallback: "?"))")
        }
        pointer = context
        verifies = verify
        // SPEC §4: TLS 1.2 or newer.
        guard copenssl_ctx_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw .tls("cannot require TLS 1.2: \(OpenSSLErrors.describe(OpenSSLErrors.drain(), fallback: "?"))")
        }
        // Writes return after each record (so a large message streams out under our own poll
        // loop), and a retried write may come from a Swift array at another address.
        _ = copenssl_ctx_set_mode(
            context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE) | Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        if verify {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                let why = OpenSSLErrors.describe(OpenSSLErrors.drain(), fallback: "unknown error")
                throw .tls("cannot load the system trust store: \(why)")
            }
            if let caFile, !caFile.isEmpty {
                guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                    let why = OpenSSLErrors.describe(OpenSSLErrors.drain(), fallback: "unreadable")
                    throw .tls("cannot load ca_file \(caFile): \(why)")
                }
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        } else {
            // Only when the settings say tls_verify = false, explicitly.
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
    }

    deinit { SSL_CTX_free(pointer) }
}
