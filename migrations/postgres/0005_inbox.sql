-- The webhook inbox, shared by every `listen` replica that uses this database.
--
-- The same tables and columns as the SQLite inbox (inbox.sqlite3: events, applied, marks),
-- named for the shared schema; times stay epoch milliseconds (bigint). An event is keyed by
-- scope (API target and key fingerprint, never the key) and event id, so a delivery that
-- reaches any replica twice is recorded once. A running event names the replica that
-- claimed it (`owner`) and holds a lease that replica renews while the handler runs: a
-- lease that ran out means the replica is gone, and another one runs the event again.

CREATE TABLE inbox_events (
    scope           text NOT NULL,
    event_id        text NOT NULL,
    invitation_id   text NOT NULL,
    previous_status text,
    current_status  text NOT NULL,
    event_ms        bigint NOT NULL,
    received_ms     bigint NOT NULL,
    synthesized     boolean NOT NULL DEFAULT false,
    body            text NOT NULL,
    state           text NOT NULL
                    CHECK (state IN ('received', 'running', 'done', 'failed', 'skipped')),
    attempts        bigint NOT NULL DEFAULT 0,
    not_before_ms   bigint NOT NULL DEFAULT 0,
    deliveries      bigint NOT NULL DEFAULT 1,
    last_error      text,
    finished_ms     bigint,
    owner           text,
    lease_until     timestamptz,
    PRIMARY KEY (scope, event_id)
);
-- Only events waiting or running are indexed: finished ones are history.
CREATE INDEX inbox_events_due ON inbox_events (scope, event_ms)
    WHERE state IN ('received', 'running');
CREATE INDEX inbox_events_by_invitation ON inbox_events (scope, invitation_id)
    WHERE state IN ('received', 'running');

CREATE TABLE inbox_applied (
    scope         text NOT NULL,
    invitation_id text NOT NULL,
    status        text NOT NULL,
    event_ms      bigint NOT NULL,
    PRIMARY KEY (scope, invitation_id)
);

CREATE TABLE inbox_marks (
    scope       text PRIMARY KEY,
    baseline_ms bigint NOT NULL
);
