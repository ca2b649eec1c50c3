-- Schema 3 of pgstore: the webhook queues (lms.WebhookStore).
--
-- webhook_events holds each client's events in the order they were made
-- (n): those still to deliver (delivered = 0 and next_attempt <> 0) and the
-- last finished ones (the deliveries log). holder and held_until are the
-- hold of the process delivering the client's oldest event.
CREATE TABLE webhook_events (
	n            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	client_id    text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	id           text NOT NULL,
	type         text NOT NULL,
	created      bigint  NOT NULL,
	attempts     integer NOT NULL DEFAULT 0,
	status       integer NOT NULL DEFAULT 0,
	error        text    NOT NULL DEFAULT '',
	next_attempt bigint  NOT NULL DEFAULT 0,
	delivered    bigint  NOT NULL DEFAULT 0,
	holder       text    NOT NULL DEFAULT '',
	held_until   bigint  NOT NULL DEFAULT 0,
	body         bytea   NOT NULL,
	UNIQUE (client_id, id)
);
CREATE INDEX webhook_events_client ON webhook_events (client_id, n);
-- The queue heads: a client's oldest event still to deliver.
CREATE INDEX webhook_events_open ON webhook_events (client_id, n) WHERE delivered = 0 AND next_attempt <> 0;

-- Pending changes handed to a client's webhook while they stay pending for
-- its XML-RPC callback: (client, url) and the seq of the change handed.
CREATE TABLE webhook_handed (
	client_id text COLLATE "C" NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
	url       text COLLATE "C" NOT NULL,
	seq       bigint NOT NULL,
	PRIMARY KEY (client_id, url)
);
