import Foundation

/// Certificates made for one test with the openssl CLI (EC P-256, so it takes milliseconds):
/// a private CA; a server certificate for localhost and 127.0.0.1 signed by it; one for another
/// host name signed by it; and a self-signed one for localhost that no store trusts.
struct TestCertificates: Sendable {
    let caFile: String
    let server: (cert: String, key: String)
    let otherHost: (cert: String, key: String)
    let selfSigned: (cert: String, key: String)

    init(in directory: TemporaryDirectory) throws {
        let d = directory.path
        caFile = "\(d)/ca.pem"
        server = ("\(d)/server.pem", "\(d)/server.key")
        otherHost = ("\(d)/other.pem", "\(d)/other.key")
        selfSigned = ("\(d)/self.pem", "\(d)/self.key")
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(
            ["req", "-x509"] + curve + [
                "-keyout", "\(d)/ca.key", "-out", caFile, "-days", "2", "-subj", "/CN=maild test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        for (pair, names) in [(server, "DNS:localhost,IP:127.0.0.1"), (otherHost, "DNS:other.example")] {
            let csr = pair.cert + ".csr"
            let ext = pair.cert + ".ext"
            try "subjectAltName=\(names)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                .write(toFile: ext, atomically: true, encoding: .utf8)
            try Self.openssl(["req"] + curve + ["-keyout", pair.key, "-out", csr, "-subj", "/CN=maild test server"])
            try Self.openssl([
                "x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", "\(d)/ca.key", "-CAcreateserial", "-out",
                pair.cert,
                "-days", "2", "-extfile", ext,
            ])
        }
        try Self.openssl(
            ["req", "-x509"] + curve + [
                "-keyout", selfSigned.key, "-out", selfSigned.cert, "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("openssl \(arguments.first ?? "") failed: \(String(decoding: output, as: UTF8.self))")
        }
    }
}
