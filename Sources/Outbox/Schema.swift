/// The outbox schema as named, ordered migrations, recorded in `schema_migrations` (GRDB's
/// DatabaseMigrator does the same). A migration, once released, is never edited: add a new one.
enum Schema {
    static let migrations: [(name: String, sql: String)] = [
        ("001_initial", """
            CREATE TABLE messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                company TEXT NOT NULL DEFAULT '',          -- '' = no company
                kind TEXT NOT NULL,
                state TEXT NOT NULL,
                message_id TEXT NOT NULL,                  -- the Message-ID header, kept across retries
                envelope_from TEXT NOT NULL,
                from_header TEXT NOT NULL,                 -- the From address, for listings
                subject TEXT NOT NULL,
                size INTEGER NOT NULL,
                smtputf8 INTEGER NOT NULL,
                eightbit INTEGER NOT NULL,
                idempotency_key TEXT,
                created_at INTEGER NOT NULL,               -- milliseconds since the epoch, UTC
                age_from INTEGER NOT NULL,                 -- max_age counts from here (reset by retry)
                updated_at INTEGER NOT NULL,
                next_attempt_at INTEGER,                   -- due time while queued or deferred
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                lease_until INTEGER                        -- while sending
            );
            -- The message bytes live apart so that scans of messages never read them.
            CREATE TABLE message_data (
                id INTEGER PRIMARY KEY,
                data BLOB NOT NULL
            );
            CREATE TABLE recipients (
                message INTEGER NOT NULL,
                position INTEGER NOT NULL,
                address TEXT NOT NULL,
                state TEXT NOT NULL,
                reply TEXT,
                PRIMARY KEY (message, position)
            ) WITHOUT ROWID;
            CREATE TABLE attempts (
                message INTEGER NOT NULL,
                at INTEGER NOT NULL,
                relay TEXT NOT NULL,
                outcome TEXT NOT NULL,
                error TEXT,
                uncertain INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX attempts_by_message ON attempts(message);
            CREATE UNIQUE INDEX messages_idempotency ON messages(company, idempotency_key)
                WHERE idempotency_key IS NOT NULL;
            -- Due mail by company, for fair claiming; only pending rows are in it.
            CREATE INDEX messages_due ON messages(company, next_attempt_at) WHERE state IN ('queued', 'deferred');
            CREATE INDEX messages_by_state ON messages(state, id);
            CREATE INDEX messages_by_company ON messages(company, id);
            CREATE INDEX messages_final ON messages(updated_at) WHERE state IN ('sent', 'failed', 'cancelled');

            -- Counts per state kept by triggers, so `status` is O(1) however large the outbox.
            CREATE TABLE state_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO state_counts VALUES
                ('queued', 0), ('sending', 0), ('deferred', 0), ('sent', 0), ('failed', 0), ('cancelled', 0);
            CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
                UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
            END;
            CREATE TRIGGER messages_count_update AFTER UPDATE OF state ON messages WHEN OLD.state <> NEW.state BEGIN
                UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
                UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
            END;
            CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
                UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
            END;
            """),
        // A trigger runs as a sub-program for every row it fires on, and it fired on every insert and
        // every state change: about a third of an enqueue's SQLite time. The counts are now kept by the
        // writer (OutboxStore.moved) and written once per commit.
        ("002_counts_kept_by_the_writer", """
            DROP TRIGGER messages_count_insert;
            DROP TRIGGER messages_count_update;
            DROP TRIGGER messages_count_delete;
            UPDATE state_counts SET n = (SELECT count(*) FROM messages WHERE messages.state = state_counts.state);
            """),
        // SQLite evaluates a partial index's WHERE for the old and the new row of every UPDATE, and an IN
        // list of three or more values builds a temporary b-tree each time: two per state change, a fifth of
        // the writer's time during delivery. Two values are compared one by one. The sweep names the index.
        ("003_final_index_without_a_long_in_list", """
            DROP INDEX messages_final;
            CREATE INDEX messages_final ON messages(updated_at) WHERE state IN ('sent', 'failed') OR state = 'cancelled';
            """),
    ]

    /// Applies the migrations not yet recorded, each in its own transaction.
    static func migrate(_ db: Database, now: Int64) throws(SQLiteError) {
        try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
        var applied: Set<String> = []
        let select = try db.statement("SELECT name FROM schema_migrations")
        while try select.step() { applied.insert(select.string(0) ?? "") }
        for migration in migrations where !applied.contains(migration.name) {
            try db.execute("BEGIN IMMEDIATE")
            do {
                try db.execute(migration.sql)
                try db.statement("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)")
                    .bind(1, migration.name).bind(2, now).run()
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }
}
