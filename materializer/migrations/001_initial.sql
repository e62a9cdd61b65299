-- 001_initial.sql — the projection's first schema. Analysts: see docs/schema.md.
-- Timestamps: *_ms integer milliseconds since the epoch beside ISO-8601 UTC text.
-- JSON lives in TEXT columns (read with json_extract). seq is the journal
-- sequence number of the event that produced (or last changed) a row.

CREATE TABLE journal_position (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    seq         INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
) STRICT;
INSERT INTO journal_position (id, seq, updated_ms) VALUES (1, 0, 0);

CREATE TABLE users (
    user_rowid     INTEGER PRIMARY KEY,
    user           TEXT NOT NULL UNIQUE,
    username       TEXT,
    timezone       TEXT,
    tz_label       TEXT,
    tz_offset      INTEGER,
    config         TEXT,                 -- JSON object or NULL
    first_seen_ms  INTEGER NOT NULL,
    first_seen     TEXT NOT NULL,
    last_seen_ms   INTEGER NOT NULL,
    last_seen      TEXT NOT NULL,
    seq            INTEGER NOT NULL
) STRICT;

CREATE TABLE threads (
    thread_rowid      INTEGER PRIMARY KEY,
    thread            TEXT NOT NULL UNIQUE,
    server            TEXT,
    channel           TEXT,
    config            TEXT,              -- JSON object or NULL
    created_ms        INTEGER NOT NULL,
    created           TEXT NOT NULL,
    last_activity_ms  INTEGER NOT NULL,
    last_activity     TEXT NOT NULL,
    message_count     INTEGER NOT NULL DEFAULT 0,
    seq               INTEGER NOT NULL
) STRICT;
CREATE INDEX threads_by_activity ON threads (last_activity_ms);

-- A user's threads by recent activity.
CREATE TABLE user_threads (
    user_rowid        INTEGER NOT NULL REFERENCES users (user_rowid) ON DELETE CASCADE,
    thread_rowid      INTEGER NOT NULL REFERENCES threads (thread_rowid) ON DELETE CASCADE,
    last_activity_ms  INTEGER NOT NULL,
    message_count     INTEGER NOT NULL,
    PRIMARY KEY (user_rowid, thread_rowid)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_threads_by_activity ON user_threads (user_rowid, last_activity_ms);

CREATE TABLE messages (
    seq           INTEGER PRIMARY KEY,    -- journal sequence number; rowid of messages_fts
    thread_rowid  INTEGER NOT NULL REFERENCES threads (thread_rowid),
    user_rowid    INTEGER REFERENCES users (user_rowid),
    role          TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content       TEXT NOT NULL,
    server        TEXT,
    channel       TEXT,
    message_ts    TEXT,
    metadata      TEXT,                   -- JSON object or NULL
    id            TEXT,                   -- the client's idempotency key, if any
    ts_ms         INTEGER NOT NULL,
    ts            TEXT NOT NULL
) STRICT;
CREATE INDEX messages_by_thread ON messages (thread_rowid, seq);
CREATE INDEX messages_by_time ON messages (ts_ms);
CREATE INDEX messages_by_user ON messages (user_rowid, server);

CREATE TABLE message_costs (
    seq            INTEGER PRIMARY KEY REFERENCES messages (seq) ON DELETE CASCADE,
    user_rowid     INTEGER REFERENCES users (user_rowid),
    model          TEXT,
    input_tokens   INTEGER,
    output_tokens  INTEGER,
    usd            REAL,
    ts_ms          INTEGER NOT NULL,
    day            TEXT NOT NULL           -- YYYY-MM-DD (UTC)
) STRICT;
CREATE INDEX message_costs_by_user_day ON message_costs (user_rowid, day);
CREATE INDEX message_costs_by_day ON message_costs (day);

CREATE TABLE blobs (
    blob           TEXT PRIMARY KEY,       -- XXH3-128, 32 hex digits (bytes stay in the journal)
    size           INTEGER,                -- NULL if the bytes were not (yet) stored
    mime_type      TEXT,
    first_seq      INTEGER NOT NULL
) STRICT;

CREATE TABLE images (
    seq                INTEGER PRIMARY KEY,  -- rowid of images_fts
    thread_rowid       INTEGER NOT NULL REFERENCES threads (thread_rowid),
    url                TEXT NOT NULL,
    kind               TEXT CHECK (kind IN ('uploaded', 'generated', 'edited')),
    prompt             TEXT,
    analysis           TEXT,
    original_analysis  TEXT,
    metadata           TEXT,
    blob               TEXT REFERENCES blobs (blob),
    thumbnail          TEXT REFERENCES blobs (blob),
    has_thumbnail      INTEGER NOT NULL,
    id                 TEXT,
    ts_ms              INTEGER NOT NULL,
    ts                 TEXT NOT NULL
) STRICT;
CREATE INDEX images_by_thread ON images (thread_rowid, seq);

CREATE TABLE settings (
    key          TEXT PRIMARY KEY,
    value        TEXT NOT NULL,            -- JSON; "***" if sensitive
    category     TEXT,
    sensitive    INTEGER NOT NULL,
    actor        TEXT,
    description  TEXT,
    updated_ms   INTEGER NOT NULL,
    updated      TEXT NOT NULL,
    seq          INTEGER NOT NULL
) STRICT;

-- Audit of every setting and config change (old -> new); sensitive values masked.
CREATE TABLE config_changes (
    seq        INTEGER PRIMARY KEY,
    scope      TEXT NOT NULL CHECK (scope IN ('setting', 'user', 'thread')),
    subject    TEXT NOT NULL,              -- setting key, user or thread
    actor      TEXT,
    old_value  TEXT,                       -- JSON or NULL
    new_value  TEXT,                       -- JSON or NULL
    sensitive  INTEGER NOT NULL,
    ts_ms      INTEGER NOT NULL,
    ts         TEXT NOT NULL
) STRICT;
CREATE INDEX config_changes_by_subject ON config_changes (scope, subject, seq);

CREATE TABLE metrics (
    seq    INTEGER PRIMARY KEY,
    name   TEXT NOT NULL,
    value  REAL NOT NULL,
    unit   TEXT,
    tags   TEXT,
    ts_ms  INTEGER NOT NULL,
    ts     TEXT NOT NULL
) STRICT;
CREATE INDEX metrics_by_name_time ON metrics (name, ts_ms);

-- Full-text search, laid out as sqlite-utils writes it so that its `search`
-- and Datasette detect it (content=[table]). The materializer writes FTS rows
-- explicitly in its own transaction (no triggers: docs/reliability.md, S7).
CREATE VIRTUAL TABLE [messages_fts] USING FTS5 (
    [content],
    content=[messages]
);
CREATE VIRTUAL TABLE [images_fts] USING FTS5 (
    [prompt], [analysis],
    content=[images]
);

-- Convenience views with the text identifiers joined back.
CREATE VIEW message_history AS
    SELECT m.seq, t.thread, m.role, m.content, u.user, m.server, m.channel,
           m.message_ts, m.metadata, m.id, m.ts_ms, m.ts
    FROM messages m JOIN threads t USING (thread_rowid)
    LEFT JOIN users u USING (user_rowid);
CREATE VIEW costs_by_user_day AS
    SELECT u.user, c.day, count(*) AS messages, sum(c.input_tokens) AS input_tokens,
           sum(c.output_tokens) AS output_tokens, sum(c.usd) AS usd
    FROM message_costs c LEFT JOIN users u USING (user_rowid)
    GROUP BY c.user_rowid, c.day;
