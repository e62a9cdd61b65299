-- 009_messages_recent.sql — messages_recent: a copy of the newest messages
-- of each thread, stored in thread order (docs/schema.md, "messages_recent").
--
-- messages is stored in sequence order, so the last 50 messages of a thread
-- are 50 rows on 50 different pages of a large table: a history read was 51
-- cold lookups. Here they sit side by side on a few pages, keyed by
-- (thread_rowid, seq). A history read takes its page from this table when
-- the table holds enough of the thread, and from messages otherwise.
--
-- What it holds, for each thread: every message of the thread from some
-- sequence on (a suffix of the thread: nothing newer is ever missing), at
-- least the newest 64 when the thread has that many and none was deleted
-- since, and at most about 64 + 32 plus one batch (the trim runs each time
-- threads.message_count crosses a multiple of 32). Its rows are those of
-- messages, column for column, kept so by the triggers below; verify and
-- the state hash leave it out (a replay refills it to exactly the newest 64).
--
-- The columns are those of messages in the same order, so that a row of one
-- is a row of the other: a migration that adds a column to messages adds it
-- here and to the triggers too (tests/projection/test_recent.c checks).
CREATE TABLE messages_recent (
    seq           INTEGER NOT NULL,
    thread_rowid  INTEGER NOT NULL,
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
    reply_to      TEXT,
    parent        TEXT,
    name          TEXT,
    tool_call_id  TEXT,
    tool_calls    TEXT,
    edited_ts_ms  INTEGER,
    edited_ts     TEXT,
    extras        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_rowid, seq)
) STRICT, WITHOUT ROWID;

-- (CROSS JOIN: threads is the outer loop, one subquery per thread)
INSERT INTO messages_recent
SELECT m.* FROM threads t CROSS JOIN messages m ON m.thread_rowid = t.thread_rowid
 AND m.seq >= coalesce((SELECT seq FROM messages WHERE thread_rowid = t.thread_rowid
                        ORDER BY seq DESC LIMIT 1 OFFSET 63), 0)
ORDER BY m.thread_rowid, m.seq;

CREATE TRIGGER messages_recent_insert AFTER INSERT ON messages BEGIN
  INSERT INTO messages_recent VALUES (NEW.seq, NEW.thread_rowid, NEW.user_rowid, NEW.role,
    NEW.content, NEW.server, NEW.channel, NEW.message_ts, NEW.metadata, NEW.id, NEW.ts_ms,
    NEW.ts, NEW.reply_to, NEW.parent, NEW.name, NEW.tool_call_id, NEW.tool_calls,
    NEW.edited_ts_ms, NEW.edited_ts, NEW.extras);
END;

CREATE TRIGGER messages_recent_update AFTER UPDATE ON messages BEGIN
  DELETE FROM messages_recent WHERE thread_rowid = OLD.thread_rowid AND seq = OLD.seq
    AND (NEW.thread_rowid IS NOT OLD.thread_rowid OR NEW.seq IS NOT OLD.seq);
  UPDATE messages_recent SET user_rowid = NEW.user_rowid, role = NEW.role,
    content = NEW.content, server = NEW.server, channel = NEW.channel,
    message_ts = NEW.message_ts, metadata = NEW.metadata, id = NEW.id, ts_ms = NEW.ts_ms,
    ts = NEW.ts, reply_to = NEW.reply_to, parent = NEW.parent, name = NEW.name,
    tool_call_id = NEW.tool_call_id, tool_calls = NEW.tool_calls,
    edited_ts_ms = NEW.edited_ts_ms, edited_ts = NEW.edited_ts, extras = NEW.extras
  WHERE thread_rowid = OLD.thread_rowid AND seq = OLD.seq;
END;

CREATE TRIGGER messages_recent_delete AFTER DELETE ON messages BEGIN
  DELETE FROM messages_recent WHERE thread_rowid = OLD.thread_rowid AND seq = OLD.seq;
END;

CREATE TRIGGER messages_recent_trim AFTER UPDATE OF message_count ON threads
WHEN NEW.message_count / 32 <> OLD.message_count / 32 BEGIN
  DELETE FROM messages_recent WHERE thread_rowid = NEW.thread_rowid
    AND seq < (SELECT seq FROM messages_recent WHERE thread_rowid = NEW.thread_rowid
               ORDER BY seq DESC LIMIT 1 OFFSET 63);
END;
