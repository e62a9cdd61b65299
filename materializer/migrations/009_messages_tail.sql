-- 009_messages_tail.sql — messages_tail: a copy of the newest 64 messages of
-- every thread, clustered by (thread_rowid, seq), from which a thread's "last
-- N" history read (N <= 63, no user or server filter) is answered. In
-- messages, a thread's rows lie one per leaf page among every other thread's
-- (rows are stored by seq), so the last 50 cost 50 random page reads; here
-- they lie on a few adjacent pages (docs/schema.md, "messages_tail";
-- docs/performance.md, "History").
--
-- The rule, kept by the triggers below through every insert, update and
-- deletion of messages: messages_tail holds exactly the newest min(64, n)
-- messages of each thread of n messages, with the columns a history row is
-- written from. messages_tail_newest says the same rule as a query: a
-- migration and a replay fill the table from it, and `verify` compares them.
CREATE TABLE messages_tail (
    thread_rowid  INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    user_rowid    INTEGER,
    role          TEXT NOT NULL,
    content       TEXT,
    server        TEXT,
    channel       TEXT,
    message_ts    TEXT,
    metadata      TEXT,
    id            TEXT,
    ts_ms         INTEGER NOT NULL,
    ts            TEXT NOT NULL,
    extras        INTEGER NOT NULL,
    PRIMARY KEY (thread_rowid, seq)
) WITHOUT ROWID, STRICT;

CREATE VIEW messages_tail_newest AS
SELECT m.thread_rowid, m.seq, m.user_rowid, m.role, m.content, m.server, m.channel, m.message_ts,
       m.metadata, m.id, m.ts_ms, m.ts, m.extras
FROM threads t CROSS JOIN messages m ON m.thread_rowid = t.thread_rowid
 AND m.seq >= coalesce((SELECT x.seq FROM messages x WHERE x.thread_rowid = t.thread_rowid
                        ORDER BY x.seq DESC LIMIT 1 OFFSET 63), 0);

INSERT INTO messages_tail SELECT * FROM messages_tail_newest;

-- a new message joins its thread's tail; the tail's 65th row leaves
CREATE TRIGGER messages_tail_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_tail VALUES (NEW.thread_rowid, NEW.seq, NEW.user_rowid, NEW.role,
        NEW.content, NEW.server, NEW.channel, NEW.message_ts, NEW.metadata, NEW.id, NEW.ts_ms,
        NEW.ts, NEW.extras);
    DELETE FROM messages_tail WHERE thread_rowid = NEW.thread_rowid
       AND seq < (SELECT seq FROM messages_tail WHERE thread_rowid = NEW.thread_rowid
                  ORDER BY seq DESC LIMIT 1 OFFSET 63);
END;

-- an edit, a reaction mark, a scrub: the copy follows
CREATE TRIGGER messages_tail_update AFTER UPDATE OF user_rowid, role, content, server, channel,
    message_ts, metadata, id, ts_ms, ts, extras ON messages BEGIN
    UPDATE messages_tail SET user_rowid = NEW.user_rowid, role = NEW.role, content = NEW.content,
        server = NEW.server, channel = NEW.channel, message_ts = NEW.message_ts,
        metadata = NEW.metadata, id = NEW.id, ts_ms = NEW.ts_ms, ts = NEW.ts, extras = NEW.extras
     WHERE thread_rowid = OLD.thread_rowid AND seq = OLD.seq;
END;

-- a message never changes thread or seq; the rule above relies on it
CREATE TRIGGER messages_tail_fixed BEFORE UPDATE OF seq, thread_rowid ON messages
 WHEN NEW.seq IS NOT OLD.seq OR NEW.thread_rowid IS NOT OLD.thread_rowid BEGIN
    SELECT RAISE(ABORT, 'messages.seq and messages.thread_rowid never change (messages_tail)');
END;

-- a deleted message leaves the tail; the thread's next older message takes
-- its place
CREATE TRIGGER messages_tail_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_tail WHERE thread_rowid = OLD.thread_rowid AND seq = OLD.seq;
    INSERT INTO messages_tail
    SELECT m.thread_rowid, m.seq, m.user_rowid, m.role, m.content, m.server, m.channel,
           m.message_ts, m.metadata, m.id, m.ts_ms, m.ts, m.extras
      FROM messages m
     WHERE m.thread_rowid = OLD.thread_rowid
       AND m.seq < (SELECT min(seq) FROM messages_tail WHERE thread_rowid = OLD.thread_rowid)
       AND (SELECT count(*) FROM messages_tail WHERE thread_rowid = OLD.thread_rowid) < 64
     ORDER BY m.seq DESC LIMIT 1;
END;
