import Config
import Control
import Logging
import MailCore
import MailDispatch
import Outbox

/// Answers the requests of the control socket (SPEC §3).
struct RequestRouter: ControlHandler {
    let outbox: Outbox
    let dispatcher: Dispatcher
    let configuration: ConfigurationStore
    let reloader: Reloader
    let environment: [String: String]
    let startedAt: Double
    let logger: Logger
    let shuttingDown: Locked<Bool>
    let clock: any WallClock = SystemWallClock()

    /// Lines up to this size are decoded, validated and composed on the poll thread: well under a
    /// millisecond of work, and it saves two thread hops per message. Larger ones go to a task so a big
    /// attachment never holds up the other clients.
    static let inlineLimit = 64 * 1024

    func handle(line: [UInt8], peer: PeerCredentials?, reply: ControlReply) {
        guard line.count <= RequestRouter.inlineLimit else {
            Task { self.answer(line, reply: reply) }
            return
        }
        answer(line, reply: reply)
    }

    /// Decodes a request and answers it: enqueue goes straight to the outbox, whose commit answers;
    /// requests that wait on I/O run as tasks.
    private func answer(_ line: [UInt8], reply: ControlReply) {
        let (req, decoded) = Request.decode(line: line)
        switch decoded {
        case .failure(let error):
            reply(Response.failure(error).line(req: req))
        case .success(.ping):
            reply(RequestRouter.pong.line(req: req))
        case .success(.enqueue(let request)):
            enqueue(request) { reply($0.line(req: req)) }
        case .success(let request):
            Task { reply(await route(request).line(req: req)) }
        }
    }

    static var pong: Response { .success([("version", .string(Daemon.version))]) }

    /// Every request's answer. `answer` takes ping and enqueue itself (enqueue answers from its commit);
    /// they are here too so that any request can be routed.
    func route(_ request: Request) async -> Response {
        do {
            switch request {
            case .ping:
                return RequestRouter.pong
            case .enqueue(let request):
                return await withCheckedContinuation { continuation in
                    enqueue(request) { continuation.resume(returning: $0) }
                }
            case .status:
                return try await status()
            case .reload:
                return await reload()
            case .test(let test):
                return await ConnectionTest.run(
                    test, configuration: configuration.current, environment: environment, logger: logger)
            case .list(let list):
                let messages = try await outbox.list(list)
                return .success([("messages", .array(messages.map(\.json)))])
            case .show(let id):
                guard let detail = try await outbox.detail(id: try messageID(id)) else {
                    throw ProtocolError(.notFound, "no message with id \(id)")
                }
                return .success([("message", detail.json)])
            case .retry(.id(let id)):
                try await outbox.retry(id: try messageID(id))
                dispatcher.retryNow()
                return .success([("count", 1)])
            case .retry(.allFailed):
                let count = try await outbox.retryAllFailed()
                dispatcher.retryNow()
                return .success([("count", .int(count))])
            case .cancel(let id):
                // A message claimed for delivery but still waiting for a connection has sent nothing:
                // the dispatcher gives it back, and it is cancelled like a queued one.
                let message = try messageID(id)
                try await outbox.cancel(id: message, withdrawn: dispatcher.withdraw(id: message))
                return .success()
            case .flush:
                let count = try await outbox.flush()
                dispatcher.retryNow()
                return .success([("count", .int(count))])
            }
        } catch let error as ProtocolError {
            return .failure(error)
        } catch let error as OutboxError {
            return .failure(RequestRouter.protocolError(error))
        } catch {
            return .failure(.unavailable, "\(error)")
        }
    }

    static func protocolError(_ error: OutboxError) -> ProtocolError {
        switch error {
        case .notFound(let m): return ProtocolError(.notFound, m)
        case .conflict(let m): return ProtocolError(.conflict, m)
        case .unavailable(let m): return ProtocolError(.unavailable, m)
        }
    }

    private func messageID(_ text: String) throws(ProtocolError) -> Int64 {
        guard let id = Int64(text), id > 0 else { throw ProtocolError(.notFound, "no message with id \(text)") }
        return id
    }

    /// Validates and composes the message (CPU only) and stores it; `answer` runs once it is durable.
    private func enqueue(_ request: EnqueueRequest, answer: @escaping @Sendable (Response) -> Void) {
        if shuttingDown.current { return answer(.failure(.unavailable, "maild is shutting down")) }
        let message: NewMessage
        do {
            message = try Submission.prepare(request, configuration: configuration.current, now: clock.now())
        } catch {
            return answer(.failure(error))
        }
        let dispatcher = self.dispatcher
        outbox.enqueue(message) { result in
            switch result {
            case .success(let outcome):
                if !outcome.duplicate { dispatcher.submitted(id: outcome.id, company: message.company) }
                answer(.success([("id", .string(String(outcome.id))), ("duplicate", .bool(outcome.duplicate))]))
            case .failure(let error):
                answer(.failure(RequestRouter.protocolError(error)))
            }
        }
    }

    private func status() async throws -> Response {
        let counts = try await outbox.counts()
        let config = configuration.current
        let queue = JSONValue.object(MessageState.allCases.map { ($0.rawValue, .int(counts[$0] ?? 0)) })
        return .success([
            ("version", .string(Daemon.version)),
            ("queue", queue),
            ("companies", .array(config.enabledCompanies.map(JSONValue.string))),
            ("config_loaded_at", .string(config.loadedAt.rfc3339)),
            ("uptime_s", .int(Int(monotonicSeconds() - startedAt))),
        ])
    }

    private func reload() async -> Response {
        let reloader = self.reloader
        let result = await onDedicatedThread(
            "reload", noThread: { .failure(ConfigError([ConfigIssue(file: "", key: "", rule: $0)])) }
        ) { reloader.reload() }
        switch result {
        case .success(let configuration):
            return .success([("companies", .int(configuration.companies.count))])
        case .failure(let error):
            return .failure(
                ProtocolError(
                    .configInvalid,
                    "configuration not reloaded; the previous one stays in force: "
                        + error.issues.map(\.description).joined(separator: "; "),
                    extra: ["errors": .array(error.issues.map { .string($0.description) })]))
        }
    }
}
