-- 006_scrub_state.sql — whether deletions have been zeroed in place on this
-- file (docs/operations.md, "Compaction"; docs/schema.md).
--
-- Every read-write connection of chatjournal runs with secure_delete=FAST:
-- a deleted or rewritten row's bytes are zeroed inside its page. What FAST
-- leaves are whole pages on the free list. A file on which every deletion
-- ran that way (one created by this version, or the scrubbed copy a full
-- scrub writes) is scrubbed in place by a compaction: FTS5 'optimize', the
-- free pages overwritten with zeros, the WAL checkpointed and truncated.
-- A file written before (upgraded here) may hold deleted bytes in any page:
-- its first compaction writes a scrubbed copy instead and sets zeroed to 1.
CREATE TABLE scrub_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    zeroed  INTEGER NOT NULL CHECK (zeroed = 0 OR zeroed = 1)
) STRICT;
INSERT INTO scrub_state (id, zeroed) VALUES (1, 0);
