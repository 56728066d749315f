import MailCore

/// Runs blocking work (file reads, sockets) on a thread of its own and suspends the calling task until it
/// is done, so Swift's cooperative pool is never blocked. Meant for rare requests (reload, test).
func onDedicatedThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DedicatedThread.start(name: name) {
            continuation.resume(returning: body())
        }
    }
}
