-- 007_message_extras.sql — what a message has in other tables, as bits, so
-- that a history read asks the attachments and reactions tables only about
-- the messages that have some (docs/schema.md, "messages.extras").
--
-- bit 1: the message has attachments (set when it is projected; attachments
--        go only with their message);
-- bit 2: it has at least one reaction (set by the first, cleared when the
--        last is removed).
ALTER TABLE messages ADD COLUMN extras INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET extras =
    (EXISTS (SELECT 1 FROM attachments a WHERE a.message_seq = messages.seq))
    | (EXISTS (SELECT 1 FROM reactions r WHERE r.message_seq = messages.seq) << 1)
WHERE seq IN (SELECT message_seq FROM attachments UNION SELECT message_seq FROM reactions);
