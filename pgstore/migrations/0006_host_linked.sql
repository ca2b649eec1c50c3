-- linked: a link was (or is about to be) created on the host. Rows that
-- only holds of redirect hops and back-offs created are not linked, and
-- PruneHosts removes them once nothing about them is in force, so that the
-- table follows the links, not the history of redirects. Rows that exist
-- already count as linked.
ALTER TABLE hosts ADD COLUMN linked boolean NOT NULL DEFAULT true;
ALTER TABLE hosts ALTER COLUMN linked SET DEFAULT false;
CREATE INDEX hosts_unlinked ON hosts (id) WHERE NOT linked;
