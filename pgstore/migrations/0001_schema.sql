-- Schema 1 of pgstore.
--
-- Times are Unix nanoseconds (0 = none). A link's state is its index in
-- lms.States(): 0 ok, 1 temporary unavailable, 2 unavailable, 3 unsupported
-- protocol, 4 unknown. Text keys sort in byte order (COLLATE "C"), as the
-- Store contract orders URLs and client ids.

-- One row per client: who it is, and in book the notifier's and syncer's
-- bookkeeping, the client leases and the mail outbox (JSON).
CREATE TABLE clients (
	id              text COLLATE "C" PRIMARY KEY,
	created         bigint  NOT NULL,
	notify          boolean NOT NULL,
	password_hash   text    NOT NULL,
	sealed_password text    NOT NULL,
	contact_name    text    NOT NULL,
	contact_email   text    NOT NULL,
	callback_url    text    NOT NULL,
	book            jsonb   NOT NULL
);

-- A client's links by state, apart from clients so that result writes do
-- not wait for a client's read-modify-write (UpdateClient) and the other
-- way round.
CREATE TABLE client_counts (
	client_id   text COLLATE "C" PRIMARY KEY,
	ok          integer NOT NULL DEFAULT 0,
	temporary   integer NOT NULL DEFAULT 0,
	unavailable integer NOT NULL DEFAULT 0,
	unsupported integer NOT NULL DEFAULT 0,
	unknown     integer NOT NULL DEFAULT 0
);

-- Subscribed links by state, in 16 shards so that concurrent writers
-- rarely update the same row (each connection writes the shard of its
-- backend pid); LinkCounts sums them.
CREATE TABLE link_counts (
	shard       smallint PRIMARY KEY,
	ok          bigint NOT NULL DEFAULT 0,
	temporary   bigint NOT NULL DEFAULT 0,
	unavailable bigint NOT NULL DEFAULT 0,
	unsupported bigint NOT NULL DEFAULT 0,
	unknown     bigint NOT NULL DEFAULT 0
);
INSERT INTO link_counts (shard) SELECT generate_series(0, 15);

-- One row per politeness key (lms.HostKey; '' for links checked without
-- network). Rows are never deleted, so ids are stable.
--   not_before  not offered before (claim spacing and DeferHost)
--   deferred    DeferHost's back-off alone (what HoldHost reports)
--   holder, held_until  the process holding the host, and until when
--   min_due     earliest due time of its subscribed links; NULL if none
--   ready_at    greatest(min_due, not_before): when its holder may claim
--   avail_at    greatest(ready_at, held_until): when any process may
-- min_due, ready_at and avail_at are kept up to date by every write that
-- changes a subscribed link's due time, so that a claim finds the ready
-- hosts through an index instead of scanning links.
CREATE TABLE hosts (
	id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	not_before bigint NOT NULL DEFAULT 0,
	deferred   bigint NOT NULL DEFAULT 0,
	held_until bigint NOT NULL DEFAULT 0,
	min_due    bigint,
	ready_at   bigint,
	avail_at   bigint,
	name       text COLLATE "C" NOT NULL UNIQUE,
	holder     text NOT NULL DEFAULT ''
);
CREATE INDEX hosts_holder_ready ON hosts (holder, ready_at, name) WHERE ready_at IS NOT NULL;
CREATE INDEX hosts_avail ON hosts (avail_at, name) WHERE avail_at IS NOT NULL;
CREATE INDEX hosts_ready ON hosts (ready_at) WHERE ready_at IS NOT NULL;

-- One row per distinct URL string. subs counts its subscriptions; due is
-- the next check time, or the end of the lease of a claim.
CREATE TABLE links (
	due       bigint   NOT NULL,
	checked   bigint   NOT NULL DEFAULT 0,
	changed   bigint   NOT NULL DEFAULT 0,
	rt        bigint   NOT NULL DEFAULT 0,
	host_id   integer  NOT NULL,
	subs      integer  NOT NULL DEFAULT 0,
	failures  integer  NOT NULL DEFAULT 0,
	code      integer  NOT NULL DEFAULT 0,
	state     smallint NOT NULL DEFAULT 4,
	permanent boolean  NOT NULL DEFAULT false,
	url       text COLLATE "C" PRIMARY KEY,
	reason    text NOT NULL DEFAULT '',
	final_url text NOT NULL DEFAULT ''
);
-- The claim's index: a host's subscribed links by due time.
CREATE INDEX links_host_due ON links (host_id, due) WHERE subs > 0;

CREATE TABLE subscriptions (
	client_id text COLLATE "C" NOT NULL,
	url       text COLLATE "C" NOT NULL,
	PRIMARY KEY (client_id, url)
);
-- A result's fan-out to the subscribers of its link.
CREATE INDEX subscriptions_url ON subscriptions (url);

-- Pending notifications, coalesced per client and link; seq identifies the
-- change (AckUpdates removes only the change that was delivered).
CREATE SEQUENCE pending_seq;
CREATE TABLE pending (
	seq       bigint   NOT NULL,
	state     smallint NOT NULL,
	client_id text COLLATE "C" NOT NULL,
	url       text COLLATE "C" NOT NULL,
	reason    text NOT NULL,
	PRIMARY KEY (client_id, url)
);
