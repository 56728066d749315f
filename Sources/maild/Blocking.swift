import MailCore

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (file reads, sockets) on a thread of its own and suspends the calling task until it
/// is done, so Swift's cooperative pool is never blocked. Meant for rare requests (reload, test); when no
/// thread can be made, `noThread` gets the reason and gives the answer instead.
func onDedicatedThread<T: Sendable>(
    _ name: String, noThread: (String) -> T, _ body: @escaping @Sendable () -> T
) async -> T {
    let result: Result<T, ThreadError> = await withCheckedContinuation { continuation in
        let started = DedicatedThread.tryStart(name: name) {
            continuation.resume(returning: .success(body()))
        }
        if started == nil {
            continuation.resume(returning: .failure(ThreadError(reason: "cannot start a thread: \(String(cString: strerror(errno)))")))
        }
    }
    switch result {
    case .success(let value): return value
    case .failure(let error): return noThread(error.reason)
    }
}

struct ThreadError: Error {
    let reason: String
}
