-- Schema 14 of pgstore: cheaper sources. A URL a source lists costs one
-- row with one index (source_links by URL) instead of three index entries
-- in two tables.
--
-- A source's own list of URLs moves into its row (sources.links, sorted in
-- byte order), where GetSource, ListSources and a PutSource's diff read it;
-- source_links keeps only its index by URL (link answers, webhooks and the
-- rule below).
--
-- The rule "subscribed while a plain registration or a source uses it" was
-- kept by source_only: a row for every subscription that is not plain,
-- written for nearly every URL a source brings. Now a subscription is plain
-- if no source uses its URL, or if source_plain holds it: source_plain has
-- a row only where a URL is both registered plainly and used by a source,
-- which a source's new URLs rarely are.

ALTER TABLE sources ADD COLUMN links text[] COLLATE "C" NOT NULL DEFAULT '{}';
UPDATE sources s SET links = l.links
	FROM (SELECT client_id, source_id, array_agg(url ORDER BY url) AS links FROM source_links GROUP BY client_id, source_id) l
	WHERE s.client_id = l.client_id AND s.id = l.source_id;
DROP INDEX source_links_source;

CREATE TABLE source_plain (
	client_id text COLLATE "C" NOT NULL,
	url       text COLLATE "C" NOT NULL,
	PRIMARY KEY (client_id, url)
);
INSERT INTO source_plain (client_id, url)
	SELECT DISTINCT sl.client_id, sl.url FROM source_links sl
	WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.client_id = sl.client_id AND s.url = sl.url)
	AND NOT EXISTS (SELECT 1 FROM source_only so WHERE so.client_id = sl.client_id AND so.url = sl.url)
	ORDER BY 1, 2;
DROP TABLE source_only;
