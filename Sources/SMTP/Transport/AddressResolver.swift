import MailCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One address a relay's host name resolved to, ready for connect(2).
struct ResolvedAddress: @unchecked Sendable, CustomStringConvertible {
    var family: Int32
    var storage: sockaddr_storage
    var length: socklen_t
    /// `127.0.0.1:2525` or `[::1]:2525`, for reasons and logs.
    var description: String
}

/// Why no connection could be made; `reason` is what a person reads.
struct ConnectError: Error, Sendable {
    var reason: String
    /// This host ran out of something (descriptors, memory) before reaching the relay.
    var isLocal = false
}

/// Host name → addresses, with getaddrinfo(3).
enum AddressResolver {
    /// A lookup: name and port to addresses (getaddrinfo; tests put in others).
    typealias Lookup = @Sendable (String, Int) throws(ConnectError) -> [ResolvedAddress]

    /// Every address of `host` (a name, an IPv4 literal or an IPv6 literal with or without brackets),
    /// IPv6 and IPv4, in the order the resolver prefers (RFC 6724), for TCP to `port`.
    ///
    /// A literal needs no DNS and is parsed at once. A name is looked up on a thread of its own, waited
    /// for until `deadline` (monotonic seconds): getaddrinfo cannot be interrupted, so a stalled DNS
    /// server would otherwise hold the connection past the relay's timeout. A lookup still running
    /// then finishes in the background and its answer is dropped.
    static func resolve(
        host: String, port: Int, deadline: Double, lookup: @escaping Lookup = AddressResolver.getaddrinfoLookup
    ) throws(ConnectError) -> [ResolvedAddress] {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let literal = literal(name, port: port) { return [literal] }
        let answer = Latch<Result<[ResolvedAddress], ConnectError>>()
        DedicatedThread.start(name: "dns-lookup") {
            answer.set(Result { () throws(ConnectError) -> [ResolvedAddress] in try lookup(name, port) })
        }
        let allowed = max(0, deadline - monotonicSeconds())
        guard let result = answer.wait(seconds: allowed) else {
            throw ConnectError(reason: "cannot resolve \(name): no answer from DNS within \(formatSeconds(allowed)) s")
        }
        return try result.get()
    }

    static let getaddrinfoLookup: Lookup = { (name: String, port: Int) throws(ConnectError) -> [ResolvedAddress] in
        try lookup(name: name, port: port)
    }

    private static func lookup(name: String, port: Int) throws(ConnectError) -> [ResolvedAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(name, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            let why = rc == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(rc))
            throw ConnectError(reason: "cannot resolve \(name): \(why)")
        }
        defer { freeaddrinfo(first) }
        var addresses: [ResolvedAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            guard let sa = info.pointee.ai_addr, info.pointee.ai_family == AF_INET || info.pointee.ai_family == AF_INET6
            else { continue }
            var storage = sockaddr_storage()
            let length = info.pointee.ai_addrlen
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: Int(length)))
            }
            let text = numericHost(sa, length)
            let shown = info.pointee.ai_family == AF_INET6 ? "[\(text)]:\(port)" : "\(text):\(port)"
            if addresses.contains(where: { $0.description == shown }) { continue }
            addresses.append(
                ResolvedAddress(family: info.pointee.ai_family, storage: storage, length: length, description: shown))
        }
        if addresses.isEmpty { throw ConnectError(reason: "cannot resolve \(name): no IPv4 or IPv6 address") }
        return addresses
    }

    /// The address of an IPv4 or IPv6 literal, built directly (getaddrinfo and getnameinfo for it took
    /// 5 % of an immediate delivery); nil for anything else.
    static func literal(_ name: String, port: Int) -> ResolvedAddress? {
        let networkPort = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        var v4 = sockaddr_in()
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_port = networkPort
        if inet_pton(AF_INET, name, &v4.sin_addr) == 1 {
            return resolved(v4, family: AF_INET, description: "\(text(AF_INET, &v4.sin_addr)):\(port)")
        }
        var v6 = sockaddr_in6()
        v6.sin6_family = sa_family_t(AF_INET6)
        v6.sin6_port = networkPort
        if inet_pton(AF_INET6, name, &v6.sin6_addr) == 1 {
            return resolved(v6, family: AF_INET6, description: "[\(text(AF_INET6, &v6.sin6_addr))]:\(port)")
        }
        return nil
    }

    private static func resolved<Address>(_ address: Address, family: Int32, description: String) -> ResolvedAddress {
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { target in withUnsafeBytes(of: address) { target.copyMemory(from: $0) } }
        return ResolvedAddress(
            family: family, storage: storage, length: socklen_t(MemoryLayout<Address>.size), description: description)
    }

    /// An address in its numeric form (inet_ntop), e.g. `::1` for `0:0:0:0:0:0:0:1`.
    private static func text(_ family: Int32, _ address: UnsafeRawPointer) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, address, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func numericHost(_ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> String {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let rc = getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
        if rc != 0 { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `host` is an IPv4 or IPv6 literal (no SNI for those, RFC 6066 §3; IP-address checks
    /// instead of host-name checks, RFC 6125 §6.2).
    static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }
}
