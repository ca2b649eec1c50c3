-- Digests (issue 22): how often the client gets a digest mail ('' off,
-- 'daily', 'weekly'; clients from before are off) and the end of the last
-- digest's window (Unix nanoseconds in the database's frame, like the
-- book's times; 0 never).
ALTER TABLE clients ADD COLUMN digest text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN digest_covered bigint NOT NULL DEFAULT 0;
