-- 008_message_extras_rare.sql — messages.extras bit 4: the message has one of
-- the rare columns of 0.3 (reply_to, parent, name, tool_call_id, tool_calls,
-- edited_ts_ms, edited_ts). A history read then reads those seven columns,
-- as one JSON object, only for the messages that have some (docs/schema.md,
-- "messages.extras"): most messages have none, and seven NULL columns per
-- row were a tenth of a history read.
--
-- bit 4: set when a message is projected with one of reply_to, parent, name,
--        tool_call_id, tool_calls, and when it is edited; never cleared (a
--        set bit with no such column costs a read only its time).
UPDATE messages SET extras = extras | 4
WHERE reply_to IS NOT NULL OR parent IS NOT NULL OR name IS NOT NULL OR tool_call_id IS NOT NULL
   OR tool_calls IS NOT NULL OR edited_ts_ms IS NOT NULL OR edited_ts IS NOT NULL;
