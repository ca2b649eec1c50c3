-- The daily counts (lms.DailyCountStore, the report pages' chart): each
-- client's links by state on each day, day being the Unix nanoseconds of
-- its midnight UTC. A client's rows go with it.
CREATE TABLE daily_counts (
	client_id   text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	day         bigint  NOT NULL,
	ok          integer NOT NULL,
	temporary   integer NOT NULL,
	unavailable integer NOT NULL,
	unsupported integer NOT NULL,
	unknown     integer NOT NULL,
	PRIMARY KEY (client_id, day)
);
CREATE INDEX daily_counts_day ON daily_counts (day);
