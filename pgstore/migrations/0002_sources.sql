-- Schema 2 of pgstore: the sources of each client (lms.SourceStore).
--
-- A client is subscribed to a URL while it registered the URL plainly or a
-- source of it lists the URL. source_only holds the subscriptions that are
-- not plain registrations, so that the subscriptions written before this
-- schema are all plain.

CREATE TABLE sources (
	client_id text COLLATE "C" NOT NULL,
	id        text COLLATE "C" NOT NULL,
	updated   bigint NOT NULL,
	title     text NOT NULL,
	edit_url  text NOT NULL,
	owner     text NOT NULL,
	PRIMARY KEY (client_id, id)
);

-- Which sources list which URLs: by URL for link answers and the rule, by
-- source for a source's own list.
CREATE TABLE source_links (
	client_id text COLLATE "C" NOT NULL,
	url       text COLLATE "C" NOT NULL,
	source_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (client_id, url, source_id)
);
CREATE INDEX source_links_source ON source_links (client_id, source_id, url);

CREATE TABLE source_only (
	client_id text COLLATE "C" NOT NULL,
	url       text COLLATE "C" NOT NULL,
	PRIMARY KEY (client_id, url)
);
