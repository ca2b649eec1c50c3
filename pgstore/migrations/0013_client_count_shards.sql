-- Schema 13 of pgstore: a client's counts by state in 16 shards, as the
-- link counts are, so that the result writes of several processes (each
-- connection writes the shard of its backend pid) do not queue for one row
-- per client from its lock to their commits. Every client has all 16 rows
-- (from CreateClient), so that writers only update rows that exist and a
-- deletion finds every row it must delete; client_totals sums them.
ALTER TABLE client_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE client_counts DROP CONSTRAINT client_counts_pkey;
ALTER TABLE client_counts ADD PRIMARY KEY (client_id, shard);
INSERT INTO client_counts (client_id, shard)
	SELECT c.client_id, s FROM client_counts c CROSS JOIN generate_series(1, 15) AS s;
CREATE VIEW client_totals AS
	SELECT client_id, sum(ok)::integer AS ok, sum(temporary)::integer AS temporary, sum(unavailable)::integer AS unavailable,
		sum(unsupported)::integer AS unsupported, sum(unknown)::integer AS unknown
	FROM client_counts GROUP BY client_id;
