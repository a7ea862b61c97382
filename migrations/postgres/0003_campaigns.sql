-- The campaign journal, shared by every machine that runs campaigns against this database.
--
-- The same tables and columns as the SQLite journal (journal.sqlite3: campaigns, rows,
-- runs, duplicates), named for the shared schema. Times stay epoch milliseconds (bigint)
-- as there, so both homes share the code that reads them. A campaign is keyed by target
-- (base URL), API-key fingerprint (never the key) and name. A run records the host and
-- process that ran it, so a second runner can be told who holds the campaign.

CREATE TABLE campaigns (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target          text NOT NULL,
    key_fp          text NOT NULL,
    name            text NOT NULL,
    created_at_ms   bigint NOT NULL,
    clock_offset_ms bigint,
    refreshed_at_ms bigint,
    UNIQUE (target, key_fp, name)
);

CREATE TABLE campaign_rows (
    campaign_id        bigint NOT NULL REFERENCES campaigns (id),
    row_key            text NOT NULL,
    line               bigint,
    state              text NOT NULL,
    attempt_at_ms      bigint,
    attempts           bigint NOT NULL DEFAULT 0,
    invitation_id      text,
    url                text,
    inv_status         text,
    error_code         text,
    error_message      text,
    match_email        text,
    match_phone        text,
    updated_at_ms      bigint NOT NULL,
    client_name        text,
    inv_created_ms     bigint,
    inv_expires_ms     bigint,
    inv_viewed_ms      bigint,
    inv_started_ms     bigint,
    inv_completed_ms   bigint,
    inv_failed_ms      bigint,
    inv_changed_ms     bigint,
    inv_failure_reason text,
    PRIMARY KEY (campaign_id, row_key)
);
CREATE INDEX campaign_rows_by_state ON campaign_rows (campaign_id, state);

CREATE TABLE campaign_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id),
    started_at_ms bigint NOT NULL,
    ended_at_ms   bigint,
    outcome       text NOT NULL,
    detail        text,
    tally         text,
    host          text,
    pid           integer
);
CREATE INDEX campaign_runs_by_campaign ON campaign_runs (campaign_id, id);

CREATE TABLE campaign_duplicates (
    campaign_id bigint NOT NULL REFERENCES campaigns (id),
    line        bigint NOT NULL,
    row_key     text NOT NULL,
    first_line  bigint NOT NULL,
    PRIMARY KEY (campaign_id, line)
);
