-- The editors' part (lms.EditorStore, issue 22).
--
-- failing_since: when the link turned failing from a state that is not
-- (Unix nanoseconds, 0 while it is not failing). Links failing before this
-- migration read as not failing until their next change.
ALTER TABLE links ADD COLUMN failing_since bigint NOT NULL DEFAULT 0;

-- ignore: how the client ignores the link (lms.IgnoreMode: 0 not ignored,
-- 1 until its state changes, 2 for good).
ALTER TABLE subscriptions ADD COLUMN ignore smallint NOT NULL DEFAULT 0;
CREATE INDEX subscriptions_ignored ON subscriptions (client_id, url) WHERE ignore <> 0;

-- Each link's state changes, written with the result that made them and
-- trimmed in the same transaction to the store's retention.
CREATE TABLE link_history (
	url       text COLLATE "C" NOT NULL,
	at        bigint   NOT NULL,
	code      integer  NOT NULL,
	state     smallint NOT NULL,
	reason    text NOT NULL,
	final_url text NOT NULL,
	PRIMARY KEY (url, at)
);
