-- Replicas and the cron scheduler's shared state.
--
-- Every long-running zavu-script process that uses this database registers in
-- `replicas` and bumps last_seen on each heartbeat. Cron replicas share `cron_jobs` (up to
-- when a job's times have been dealt with, and its last run) and `cron_fires` (one row per
-- due time that was claimed: the unique key is what makes a due time fire once however
-- many replicas run). A running fire holds a lease its replica renews; a lease that runs
-- out marks the run lost.

CREATE TABLE replicas (
    id          text PRIMARY KEY,
    kind        text NOT NULL,
    host        text NOT NULL,
    pid         integer NOT NULL,
    version     text NOT NULL,
    crontab     text,
    digest      text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    stopped_at  timestamptz
);

CREATE TABLE cron_jobs (
    crontab       text NOT NULL,
    job           text NOT NULL,
    handled_until timestamptz NOT NULL,
    last_slot     timestamptz,
    last_start    timestamptz,
    last_end      timestamptz,
    last_outcome  text,
    PRIMARY KEY (crontab, job)
);

CREATE TABLE cron_fires (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    crontab      text NOT NULL,
    job          text NOT NULL,
    slot         timestamptz NOT NULL,
    state        text NOT NULL CHECK (state IN ('running', 'queued', 'skipped', 'done', 'lost')),
    replica      text NOT NULL,
    run_no       bigint,
    catch_up     boolean NOT NULL DEFAULT false,
    started_at   timestamptz,
    deadline     timestamptz,
    lease_until  timestamptz,
    ended_at     timestamptz,
    outcome      text,
    error        text,
    UNIQUE (crontab, job, slot)
);

-- At most one run waits per job (overlap=queue).
CREATE UNIQUE INDEX cron_fires_one_queued ON cron_fires (crontab, job) WHERE state = 'queued';
CREATE INDEX cron_fires_running ON cron_fires (lease_until) WHERE state = 'running';
