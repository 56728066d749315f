import MailCore
import Testing

@testable import SMTP

@Suite("Resolving a relay's host")
struct AddressResolverTests {
    @Test func literalsAndLocalhostResolve() throws {
        let deadline = monotonicSeconds() + 5
        #expect(try AddressResolver.resolve(host: "127.0.0.1", port: 25, deadline: deadline).map(\.description) == ["127.0.0.1:25"])
        #expect(try AddressResolver.resolve(host: "[::1]", port: 587, deadline: deadline).map(\.description) == ["[::1]:587"])
        let local = try AddressResolver.resolve(host: "localhost", port: 25, deadline: deadline).map(\.description)
        #expect(local.contains("127.0.0.1:25"))
    }

    /// Literals skip getaddrinfo: what they are built into must be what getaddrinfo gives for them.
    @Test func literalsAreBuiltAsGetaddrinfoWouldGiveThem() throws {
        for (name, port) in [("127.0.0.1", 25), ("10.1.2.3", 2525), ("::1", 587), ("2001:db8::0:1", 465), ("::ffff:10.0.0.1", 25)] {
            let built = try #require(AddressResolver.literal(name, port: port))
            let looked = try #require(try AddressResolver.getaddrinfoLookup(name, port).first)
            #expect(built.family == looked.family && built.length == looked.length, "\(name)")
            #expect(built.description == looked.description)
            let bytes = { (a: ResolvedAddress) in
                withUnsafeBytes(of: a.storage) { Array($0.prefix(Int(a.length))) }
            }
            #expect(bytes(built) == bytes(looked), "\(name)")
        }
        #expect(AddressResolver.literal("relay.example.com", port: 25) == nil)
        #expect(AddressResolver.literal("127.0.0.1.example", port: 25) == nil)
    }

    @Test func anUnknownNameIsReportedByName() {
        #expect {
            _ = try AddressResolver.resolve(host: "no-such-host.invalid", port: 25, deadline: monotonicSeconds() + 10)
        } throws: { error in
            (error as? ConnectError)?.reason.hasPrefix("cannot resolve no-such-host.invalid: ") == true
        }
    }

    /// A lookup that does not answer (a stalled DNS server) must not hold the connection past the
    /// deadline. The stalled lookup is released only after resolve has given up, so a resolver that
    /// waited for it would never return before the release.
    @Test func aStalledLookupEndsAtTheDeadline() {
        let release = Latch<Bool>()
        let finished = Latch<Bool>()
        let stalled: AddressResolver.Lookup = { (_: String, _: Int) throws(ConnectError) -> [ResolvedAddress] in
            // Waits for the test, at most a minute so the thread cannot outlive the run by much.
            _ = release.wait(seconds: 60)
            finished.set(true)
            return []
        }
        var reason: String?
        do {
            _ = try AddressResolver.resolve(
                host: "relay.example.com", port: 25, deadline: monotonicSeconds() + 0.2, lookup: stalled)
        } catch {
            reason = error.reason
        }
        #expect(finished.wait(seconds: 0) == nil, "resolve returned only after the lookup ended")
        release.set(true)
        #expect(reason?.hasPrefix("cannot resolve relay.example.com: no answer from DNS within ") == true)
        #expect(finished.wait(seconds: 60) == true)
    }
}
