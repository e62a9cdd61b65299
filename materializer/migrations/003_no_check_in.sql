-- The CHECK (col IN (...)) constraints of messages.role, images.kind and
-- config_changes.scope go: SQLite 3.40 builds an ephemeral table for an IN
-- list on every INSERT (31% of a replay's instructions, measured with
-- callgrind), and the values are already guaranteed by validation at append
-- (journal/event_validate.c: one place for each fact; docs/schema.md lists
-- them). Removing a CHECK constraint changes no stored byte, so it is done
-- the way SQLite documents for such changes: edit the table's SQL text in
-- sqlite_schema, in this migration's transaction, and reload the schema.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, ' CHECK (role IN (''user'', ''assistant'', ''system'', ''tool''))', '')
 WHERE type = 'table' AND name = 'messages';
UPDATE sqlite_schema
   SET sql = replace(sql, ' CHECK (kind IN (''uploaded'', ''generated'', ''edited''))', '')
 WHERE type = 'table' AND name = 'images';
UPDATE sqlite_schema
   SET sql = replace(sql, ' CHECK (scope IN (''setting'', ''user'', ''thread''))', '')
 WHERE type = 'table' AND name = 'config_changes';
PRAGMA writable_schema = RESET;
