-- The send loop's writes touch a campaign's rows by key, a few hundred at a time, and
-- nothing else; cheaper that way than with the state index of 0003.
--
-- * The index on (campaign_id, state) is dropped: every change of a row's state had to
--   update it, and on a young table (no statistics yet) the planner read a whole campaign
--   through it to join a batch of answers — a cost growing with the campaign. The queries
--   by state (a run's start, reconcile, counts) read one campaign's rows through the
--   primary key instead.
-- * Pages are filled to half, so the update that records a row's answer usually fits
--   beside the row it replaces and touches no index at all (a heap-only update).
DROP INDEX campaign_rows_by_state;
ALTER TABLE campaign_rows SET (fillfactor = 50);
