import Foundation
import Logging
import Testing

@testable import Control
@testable import MailCore

/// Echoes the line back, upper-cased: at once, or from a task after a delay for lines starting "slow".
struct EchoHandler: ControlHandler {
    func handle(line: [UInt8], peer: PeerCredentials?, reply: ControlReply) {
        let text = String(decoding: line, as: UTF8.self)
        let answer = Array((text.uppercased() + "\n").utf8)
        guard text.hasPrefix("slow") else { return reply(answer) }
        Task {
            try? await Task.sleep(for: .milliseconds(200))
            reply(answer)
        }
    }
}

/// A real ControlServer on a Unix socket in a temporary directory.
final class ServerFixture: @unchecked Sendable {
    let path: String
    let server: ControlServer
    let done = Latch<Bool>()

    init(maxLineBytes: Int = 1 << 20) throws {
        path = NSTemporaryDirectory() + "maild-ctl-" + UUID().uuidString.prefix(8) + ".sock"
        server = try ControlServer(path: path, mode: 0o600, allowedUIDs: [], maxLineBytes: maxLineBytes, logger: Logger(label: "t"))
        let server = self.server
        let done = self.done
        Task.detached {
            await server.run(handler: EchoHandler())
            done.set(true)
        }
    }

    func stop() {
        server.stop()
        _ = done.wait(seconds: 10)
    }

    func connect() throws -> FileHandle {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(rc == 0)
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
}

func readLines(_ handle: FileHandle, count: Int) -> [String] {
    var buffer = Data()
    while buffer.filter({ $0 == 0x0A }).count < count {
        let chunk = handle.availableData
        if chunk.isEmpty { break }
        buffer.append(chunk)
    }
    return String(decoding: buffer, as: UTF8.self).split(separator: "\n").map(String.init)
}

@Suite(.serialized) struct ControlServerTests {
    @Test func answersInRequestOrderEvenWhenAnEarlierOneIsSlower() throws {
        let f = try ServerFixture()
        defer { f.stop() }
        let client = try f.connect()
        client.write(Data("slow one\nfast two\nfast three\n".utf8))
        #expect(readLines(client, count: 3) == ["SLOW ONE", "FAST TWO", "FAST THREE"])
    }

    @Test func answersTheLastLineOfAClientThatHalfCloses() throws {
        let f = try ServerFixture()
        defer { f.stop() }
        let client = try f.connect()
        client.write(Data("a\nb".utf8))
        shutdown(client.fileDescriptor, Int32(SHUT_WR))
        #expect(readLines(client, count: 2) == ["A", "B"])
    }

    @Test func closesAfterTooLargeWithTheError() throws {
        let f = try ServerFixture(maxLineBytes: 16)
        defer { f.stop() }
        let client = try f.connect()
        client.write(Data("ok\n".utf8) + Data(repeating: UInt8(ascii: "x"), count: 100))
        let lines = readLines(client, count: 2)
        #expect(lines.first == "OK")
        #expect(lines.count == 2 && lines[1].contains("\"too_large\""))
        #expect(client.availableData.isEmpty)  // closed
    }

    @Test func refusesToStartOnASocketALiveServerAnswers() throws {
        let f = try ServerFixture()
        defer { f.stop() }
        #expect(throws: ListenerError.self) {
            _ = try ControlServer(path: f.path, mode: 0o600, allowedUIDs: [], maxLineBytes: 100, logger: Logger(label: "t"))
        }
    }

    @Test func stopRemovesTheSocketFile() throws {
        let f = try ServerFixture()
        #expect(FileManager.default.fileExists(atPath: f.path))
        f.stop()
        #expect(!FileManager.default.fileExists(atPath: f.path))
    }
}
