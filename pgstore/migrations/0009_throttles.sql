-- The guessing throttles of every process (lms.ThrottleStore): one row per
-- key (a SHA-256 digest of it), its bucket as the theoretical arrival time
-- of its next failure (GCRA) in the database's clock, Unix nanoseconds. A
-- row whose tat has passed is a full bucket, the same as no row; such rows
-- are swept.
CREATE TABLE throttles (
	key bytea PRIMARY KEY,
	tat bigint NOT NULL
);
CREATE INDEX throttles_tat ON throttles (tat);
