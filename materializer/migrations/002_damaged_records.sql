-- Journal records that `chatjournal replay --skip-damaged` could not read
-- (checksum mismatch, undecodable body): their sequence numbers and why, so
-- an operator who recovered the rest knows exactly what is missing. Empty in
-- a healthy store. verify lists them.
CREATE TABLE damaged_records (
    seq   INTEGER PRIMARY KEY,
    error TEXT NOT NULL
) STRICT;
