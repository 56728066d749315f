import Foundation
import Testing

@testable import SMTP

@Suite("TLS contexts shared between connections")
struct TLSContextCacheTests {
    @Test func sameSettingsShareOneContextUntilTheCAFileChanges() throws {
        let dir = try TemporaryDirectory()
        let other = try TemporaryDirectory()
        let certs = try TestCertificates(in: dir)
        let otherCerts = try TestCertificates(in: other)
        let path = dir.file("trusted.pem")
        try FileManager.default.copyItem(atPath: certs.caFile, toPath: path)

        let cache = TLSContextCache()
        let first = try cache.context(verify: true, caFile: path)
        #expect(try cache.context(verify: true, caFile: path) === first)
        #expect(try cache.context(verify: false, caFile: path) !== first)
        #expect(try cache.context(verify: true, caFile: nil) !== first)

        // An administrator replaces the file: the next connection trusts what it holds now.
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: otherCerts.caFile, toPath: path)
        let rebuilt = try cache.context(verify: true, caFile: path)
        #expect(rebuilt !== first)
        #expect(try cache.context(verify: true, caFile: path) === rebuilt)
    }

    @Test func aCAFileThatCannotBeLoadedIsReportedEveryTime() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("missing.pem")
        let cache = TLSContextCache()
        for _ in 0..<2 {
            #expect {
                _ = try cache.context(verify: true, caFile: path)
            } throws: { error in
                "\(error)".contains("cannot load ca_file \(path)")
            }
        }
    }
}
