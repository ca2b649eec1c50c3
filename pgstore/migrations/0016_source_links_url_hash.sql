-- Schema 16 of pgstore: the sources that list a URL are found through a
-- hash index on the URL instead of the primary key (client_id, url,
-- source_id). Every query of source_links is an equality on the URL
-- (url = …, url = ANY(…)) with the client and source as filters; a hash
-- entry holds a 4-byte hash code instead of the URL, so a source's new URLs,
-- which enter the index at random places, dirty and log a fraction of what
-- the B-tree cost (as for subscriptions_url in 0015). A row is unique by
-- construction: PutSource adds only the URLs its source did not list
-- before, under the client's row lock (see sources.go).
ALTER TABLE source_links DROP CONSTRAINT source_links_pkey;
CREATE INDEX source_links_url ON source_links USING hash (url);
-- A source's list of URLs (tens of KB for a page of a thousand links) is
-- compressed with lz4 rather than pglz: a few times less CPU per write.
ALTER TABLE sources ALTER COLUMN links SET COMPRESSION lz4;
