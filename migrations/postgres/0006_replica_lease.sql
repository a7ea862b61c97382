-- Each replica's own lease.
--
-- A replica records the lease it runs with (`--lease-ttl`, in milliseconds), so that
-- `state status` calls it stale only once it has been silent for longer than its own
-- lease rather than a default one. Replicas of an older version leave it NULL and are
-- judged by the default (30 s).

ALTER TABLE replicas ADD COLUMN lease_ttl_ms bigint;
