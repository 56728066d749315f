import Foundation
import Testing

@testable import Config

/// A temporary directory holding a global file and company files.
final class ConfigDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "maild-config-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path + "/companies.d", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o644) -> String {
        let file = path + "/" + name
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        try! FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }

    func load(_ global: String, environment: [String: String] = [:]) throws(ConfigError) -> Configuration {
        try ConfigLoader.load(path: write("maild.toml", global), environment: environment, hostName: "host.test")
    }

    func issues(_ global: String) -> [String] {
        do {
            _ = try load(global)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }
}
