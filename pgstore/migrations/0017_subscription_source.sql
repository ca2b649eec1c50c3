-- Schema 17 of pgstore: a source's use of a URL costs no row of its own
-- when it is the URL's only use, which it is for most links of a page.
--
-- A subscription row says itself why it exists: plain (a plain
-- registration holds it) and source_id (the one source that lists the URL,
-- when its use is recorded there). The other uses are rows of source_links,
-- as before: a URL's uses are either its source_id or its source_links
-- rows, never both. A subscription row exists while it is plain or used.
--
-- So a source's new URL is one subscription row with its source's id, as
-- cheap as a plain registration; only a URL a second source lists (the
-- links of a site's navigation and footer) gets source_links rows, one per
-- use. source_plain goes: the flag holds what it held.
--
-- Existing uses stay in source_links (their subscriptions' source_id is
-- NULL); only the flag is derived from what source_plain said.

ALTER TABLE subscriptions ADD COLUMN plain boolean NOT NULL DEFAULT true, ADD COLUMN source_id text COLLATE "C";
-- Driven by source_links, so that the plain subscriptions (most of them,
-- in a deployment that came from XML-RPC) are not visited.
UPDATE subscriptions s SET plain = false
	FROM (SELECT DISTINCT client_id, url FROM source_links) sl
	WHERE s.client_id = sl.client_id AND s.url = sl.url
	AND NOT EXISTS (SELECT 1 FROM source_plain sp WHERE sp.client_id = s.client_id AND sp.url = s.url);
DROP TABLE source_plain;
