import Logging
import MailCore

/// Copies the WAL back into the database from a thread of its own, every 100 ms while there are
/// commits, so the writer seldom stalls on a checkpoint while clients wait for their acknowledgements
/// (the writer runs with wal_autocheckpoint = 0 and only finishes the last frames; see
/// `DatabaseThread.walRestartFrames`).
final class Checkpointer: @unchecked Sendable {
    private let stop = Latch<Bool>()
    private let done: Latch<Bool>

    init(db: Database, commits: Locked<Int>, logger: Logger) {
        let stop = self.stop
        let store = OutboxStore(db: db)
        done = DedicatedThread.start(name: "outbox-checkpoint") {
            var seen = 0
            while true {
                let stopping = stop.wait(seconds: 0.1) != nil
                let current = commits.current
                if current != seen || stopping {
                    seen = current
                    do {
                        try store.db.execute(stopping ? "PRAGMA wal_checkpoint(TRUNCATE)" : "PRAGMA wal_checkpoint(PASSIVE)")
                    } catch {
                        logger.warning("checkpoint failed", metadata: ["event": "checkpoint_failed", "error": "\(error)"])
                    }
                }
                if stopping { return }
            }
        }
    }

    func close() {
        stop.set(true)
        _ = done.wait()
    }
}
