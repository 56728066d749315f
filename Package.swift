// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "maild",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "maild", targets: ["maild"]),
        .executable(name: "mailctl", targets: ["mailctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        // C libraries of the system, with shims only for macros and variadic functions.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // glibc calls behind _GNU_SOURCE or malloc.h (thread names, malloc arenas).
        .systemLibrary(name: "CLinux"),

        // Pure values: addresses, messages, states, outcomes, the wire protocol.
        .target(name: "MailCore", dependencies: ["CLinux"]),
        // RFC 5322 / MIME bytes from a validated message.
        .target(name: "MIME", dependencies: ["MailCore"]),
        // TOML files -> validated settings; which relay and sender apply.
        .target(name: "Config", dependencies: ["MailCore", "TOMLKit"]),
        // The durable SQLite outbox.
        .target(name: "Outbox", dependencies: ["MailCore", "CSQLite", .product(name: "Logging", package: "swift-log")]),
        // Sockets, TLS and the SMTP conversation.
        .target(name: "SMTP", dependencies: ["MailCore", "COpenSSL", .product(name: "Logging", package: "swift-log")]),
        // When and over how many connections mail is sent.
        .target(
            name: "MailDispatch",
            dependencies: ["MailCore", "Outbox", "SMTP", "Config", .product(name: "Logging", package: "swift-log")]
        ),
        // The Unix-socket server and its JSON-lines framing.
        .target(name: "Control", dependencies: ["MailCore", .product(name: "Logging", package: "swift-log")]),

        .executableTarget(
            name: "maild",
            dependencies: [
                "MailCore", "MIME", "Config", "Outbox", "SMTP", "MailDispatch", "Control",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "mailctl",
            dependencies: ["MailCore", "Config", "MIME", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        .testTarget(name: "MailCoreTests", dependencies: ["MailCore"]),
        .testTarget(name: "MIMETests", dependencies: ["MIME", "MailCore"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "MailCore"]),
        .testTarget(name: "OutboxTests", dependencies: ["Outbox", "MailCore"]),
        .testTarget(name: "SMTPTests", dependencies: ["SMTP", "MailCore"]),
        .testTarget(name: "ControlTests", dependencies: ["Control", "MailCore"]),
        .testTarget(name: "MailDispatchTests", dependencies: ["MailDispatch", "MailCore", "Outbox", "Config"]),
    ]
)
