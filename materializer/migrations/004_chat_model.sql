-- 004_chat_model.sql — the chat model (event schema 0.3, docs/events.md):
-- edits, single-message deletes, reactions, attachments, replies and
-- threads, tool use, user profiles, thread titles. Analysts: docs/schema.md.
--
-- The projection is then re-applied from the journal's first event: this
-- version derives some values differently (users.first_seen and
-- threads.created are the EARLIEST event time seen, so an import of older
-- history moves them back; before, the first event in journal order set
-- them), and rows built by the old rules could differ from a replay by this
-- build. Emptying every table and setting the position to 0 here, in the
-- migration's transaction, makes the materializer rebuild the projection
-- exactly as a replay would (docs/schema.md, "Upgrading").

-- messages: content may be absent (a message of attachments or tool calls
-- only); NOT NULL goes the way SQLite documents for removing a constraint.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'content       TEXT NOT NULL,', 'content       TEXT,')
 WHERE type = 'table' AND name = 'messages';
PRAGMA writable_schema = RESET;

ALTER TABLE messages ADD COLUMN reply_to TEXT;       -- id of the message this one answers
ALTER TABLE messages ADD COLUMN parent TEXT;         -- id of its thread parent (Slack thread_ts, ChatGPT parent)
ALTER TABLE messages ADD COLUMN name TEXT;           -- OpenAI: the participant's name
ALTER TABLE messages ADD COLUMN tool_call_id TEXT;   -- OpenAI: the call a tool message answers
ALTER TABLE messages ADD COLUMN tool_calls TEXT;     -- OpenAI: JSON array of calls
ALTER TABLE messages ADD COLUMN edited_ts_ms INTEGER; -- last edit_message applied, or NULL
ALTER TABLE messages ADD COLUMN edited_ts TEXT;
-- edit_message, delete_message and reaction find their message through the
-- journal's idempotency table (id -> sequence number), not an index here:
-- an index on messages.id would cost every message with an id.

-- Every edit of a message: the text it replaced and the text it set.
CREATE TABLE message_edits (
    seq           INTEGER PRIMARY KEY,   -- the edit_message event
    message_seq   INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    editor        TEXT,
    old_content   TEXT,                  -- NULL: the message had no content
    content       TEXT NOT NULL,
    id            TEXT,
    ts_ms         INTEGER NOT NULL,
    ts            TEXT NOT NULL
) STRICT;
CREATE INDEX message_edits_by_message ON message_edits (message_seq, seq);

-- Who reacted with what, now (a remove deletes the row).
CREATE TABLE reactions (
    message_seq   INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    emoji         TEXT NOT NULL,
    user          TEXT NOT NULL,
    seq           INTEGER NOT NULL,      -- the reaction event that added it
    ts_ms         INTEGER NOT NULL,
    ts            TEXT NOT NULL,
    PRIMARY KEY (message_seq, emoji, user)
) STRICT, WITHOUT ROWID;

-- A message's files, in the order given.
CREATE TABLE attachments (
    message_seq   INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,      -- 0-based position in the event's array
    blob          TEXT REFERENCES blobs (blob),
    url           TEXT,
    name          TEXT,
    mime          TEXT,
    size          INTEGER,
    PRIMARY KEY (message_seq, idx)
) STRICT, WITHOUT ROWID;
CREATE INDEX attachments_by_blob ON attachments (blob) WHERE blob IS NOT NULL;

ALTER TABLE images ADD COLUMN message TEXT;          -- id of the message the image belongs to

ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN is_bot INTEGER;         -- 0/1, NULL: never said
ALTER TABLE users ADD COLUMN avatar_url TEXT;
ALTER TABLE users ADD COLUMN metadata TEXT;          -- JSON object or NULL

ALTER TABLE threads ADD COLUMN title TEXT;           -- set by a thread event; see thread_titles
ALTER TABLE threads ADD COLUMN topic TEXT;
ALTER TABLE threads ADD COLUMN metadata TEXT;        -- JSON object or NULL

-- A thread's title: the one a thread event set, else the start of its first
-- user message (its first line, at most 80 characters).
CREATE VIEW thread_titles AS
    SELECT t.thread_rowid, t.thread,
           coalesce(nullif(t.title, ''),
                    (SELECT substr(CASE WHEN instr(m.content, char(10)) > 0
                                        THEN substr(m.content, 1, instr(m.content, char(10)) - 1)
                                        ELSE m.content END, 1, 80)
                       FROM messages m
                      WHERE m.thread_rowid = t.thread_rowid AND m.role = 'user'
                        AND m.content IS NOT NULL AND m.content <> ''
                      ORDER BY m.seq LIMIT 1)) AS title,
           nullif(t.title, '') IS NOT NULL AS title_set,
           t.topic
    FROM threads t;

DROP VIEW message_history;
CREATE VIEW message_history AS
    SELECT m.seq, t.thread, tt.title AS thread_title, m.role, m.content, u.user,
           u.display_name, m.name, m.server, m.channel, m.message_ts, m.reply_to, m.parent,
           m.tool_call_id, m.tool_calls, m.metadata, m.id, m.ts_ms, m.ts,
           m.edited_ts_ms, m.edited_ts,
           (SELECT count(*) FROM reactions r WHERE r.message_seq = m.seq) AS reactions,
           (SELECT count(*) FROM attachments a WHERE a.message_seq = m.seq) AS attachments
    FROM messages m JOIN threads t USING (thread_rowid)
    JOIN thread_titles tt USING (thread_rowid)
    LEFT JOIN users u USING (user_rowid);

CREATE VIEW reaction_counts AS
    SELECT message_seq, emoji, count(*) AS count
    FROM reactions GROUP BY message_seq, emoji;

CREATE VIEW costs_by_thread_day AS
    SELECT t.thread, c.day, count(*) AS messages, sum(c.input_tokens) AS input_tokens,
           sum(c.output_tokens) AS output_tokens, sum(c.usd) AS usd
    FROM message_costs c JOIN messages m USING (seq) JOIN threads t USING (thread_rowid)
    GROUP BY t.thread_rowid, c.day;

-- Re-apply the journal from its first event (see the top of this file).
INSERT INTO messages_fts (messages_fts) VALUES ('delete-all');
INSERT INTO images_fts (images_fts) VALUES ('delete-all');
DELETE FROM reactions;
DELETE FROM attachments;
DELETE FROM message_edits;
DELETE FROM message_costs;
DELETE FROM messages;
DELETE FROM images;
DELETE FROM blobs;
DELETE FROM user_threads;
DELETE FROM threads;
DELETE FROM users;
DELETE FROM settings;
DELETE FROM config_changes;
DELETE FROM metrics;
DELETE FROM damaged_records;
UPDATE journal_position SET seq = 0;
