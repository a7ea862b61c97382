//! A campaign's funnel as numbers: invited → viewed → started → completed, with expired,
//! cancelled, failed, invalid and not-sent beside it; completions over time since the
//! campaign started; median and p90 time to complete. A pure function of the journal's
//! rows and the moment the statuses were known — no I/O, no clock — so the page, the
//! `--json` output and `campaign::report` in scripts show the very same numbers.
//!
//! What each row shows in a report (its status label, last change, error) is decided
//! here too, once.

use super::journal::{Counts, Entry, RowState};
use crate::api::Timestamp;
use serde::Serialize;

/// Where a row's client got to. Each stage includes the ones after it: a completed
/// invitation was also viewed and started, whatever timestamps the API kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stages {
    pub invited: i64,
    pub viewed: i64,
    pub started: i64,
    pub completed: i64,
}

/// The ways out of the funnel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcomes {
    /// The link ran out before the client finished.
    pub expired: i64,
    /// Cancelled by the partner.
    pub cancelled: i64,
    /// The client started and did not finish (the API's `failed`).
    pub failed: i64,
    /// Rows the contract refused; never sent.
    pub invalid: i64,
    /// Rows whose create failed or whose outcome is not yet known; retried by a re-run.
    pub not_sent: i64,
    /// Rows not sent because the client already held a live invitation made elsewhere.
    pub already_invited: i64,
}

/// Each stage and outcome as a share of the invited (invalid and not-sent: of all rows),
/// in percent with one decimal.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Percent {
    pub viewed: f64,
    pub started: f64,
    pub completed: f64,
    pub expired: f64,
    pub cancelled: f64,
    pub failed: f64,
    pub invalid: f64,
    pub not_sent: f64,
    pub already_invited: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeToComplete {
    /// Completions with both timestamps, which the figures below are taken over.
    pub measured: i64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bucket {
    pub start: Timestamp,
    pub completed: i64,
    pub cumulative: i64,
}

/// Completions per bucket, from the first invitation's creation to the latest thing known.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    /// `hour`, `6 hours`, `day`, `week` or `30 days`: whichever keeps the chart at most
    /// [`MAX_BUCKETS`] wide.
    pub bucket: String,
    pub bucket_seconds: i64,
    pub buckets: Vec<Bucket>,
}

pub const MAX_BUCKETS: i64 = 90;

/// The numbers of a campaign report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Funnel {
    pub name: String,
    pub target: String,
    /// When the statuses shown were true: the last refresh from the API, or else the
    /// journal's last write.
    pub as_of: Option<Timestamp>,
    /// Whether `as_of` is a refresh from the API (false: only what runs recorded).
    pub refreshed: bool,
    pub rows: i64,
    /// Rows by journal state, as `campaign status` shows them.
    pub row_states: Counts,
    /// Invited rows by last known invitation status, as `campaign status` shows them.
    pub invitations: Counts,
    pub funnel: Stages,
    pub outcomes: Outcomes,
    pub percent: Percent,
    pub time_to_complete: TimeToComplete,
    pub completions: Timeline,
}

/// The status a report shows for a row: the invitation's status once it exists, else
/// what became of the row.
pub fn row_status(e: &Entry) -> &str {
    match e.state {
        RowState::Created => e.inv_status.as_deref().unwrap_or("unknown"),
        RowState::Invalid => "invalid",
        RowState::Existing => "already invited",
        RowState::Failed | RowState::Planned => "not sent",
        RowState::Sending | RowState::Unknown => "unconfirmed",
    }
}

/// When the row last changed: the invitation's own last change, its expiry if it expired
/// since, or the journal's last write for rows never created.
pub fn last_change_ms(e: &Entry) -> i64 {
    let l = &e.life;
    match (e.state, e.inv_status.as_deref()) {
        (RowState::Created, Some("expired")) => {
            l.expires_ms.or(l.changed_ms).unwrap_or(e.updated_at_ms)
        }
        (RowState::Created, _) => l.changed_ms.unwrap_or(e.updated_at_ms),
        _ => e.updated_at_ms,
    }
}

/// Why a row is not going well, if it is not: the journal's error for rows not sent,
/// the API's failure reason for a failed signup.
pub fn row_error(e: &Entry) -> Option<String> {
    match (&e.error_code, &e.error_message) {
        (_, Some(m)) if e.state != RowState::Created => Some(m.clone()),
        (Some(c), None) if e.state != RowState::Created => Some(c.clone()),
        _ => e.life.failure_reason.clone(),
    }
}

fn percent(n: i64, of: i64) -> f64 {
    if of <= 0 {
        return 0.0;
    }
    (n as f64 * 1000.0 / of as f64).round() / 10.0
}

/// The nearest-rank quantile of sorted values.
fn quantile(sorted: &[i64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0)
}

const BUCKETS: &[(&str, i64)] = &[
    ("hour", 3_600),
    ("6 hours", 6 * 3_600),
    ("day", 86_400),
    ("week", 7 * 86_400),
    ("30 days", 30 * 86_400),
];

fn timeline(start_ms: i64, end_ms: i64, completions: &[i64]) -> Timeline {
    let span_s = ((end_ms - start_ms).max(0) / 1000) + 1;
    let (name, secs) = BUCKETS
        .iter()
        .copied()
        .find(|(_, s)| (span_s + s - 1) / s <= MAX_BUCKETS)
        .unwrap_or(BUCKETS[BUCKETS.len() - 1]);
    let width = secs * 1000;
    // Buckets start on whole UTC hours (days for day-or-longer buckets).
    let align = if secs >= 86_400 {
        86_400_000
    } else {
        3_600_000
    };
    let first = start_ms.div_euclid(align) * align;
    let count = ((end_ms - first).max(0) / width + 1).min(MAX_BUCKETS * 2) as usize;
    let mut per = vec![0i64; count];
    for &t in completions {
        let i = ((t - first).max(0) / width) as usize;
        per[i.min(count - 1)] += 1;
    }
    let mut cumulative = 0;
    let buckets = per
        .into_iter()
        .enumerate()
        .map(|(i, completed)| {
            cumulative += completed;
            Bucket {
                start: Timestamp::from_millis(first + i as i64 * width),
                completed,
                cumulative,
            }
        })
        .collect();
    Timeline {
        bucket: name.to_string(),
        bucket_seconds: secs,
        buckets,
    }
}

/// The report's numbers from the campaign's rows. `as_of_ms` is when the statuses were
/// known (see [`Funnel::as_of`]).
pub fn compute(
    name: &str,
    target: &str,
    entries: &[Entry],
    as_of_ms: Option<i64>,
    refreshed: bool,
) -> Funnel {
    let mut row_states = Counts::new();
    let mut invitations = Counts::new();
    let mut stages = Stages::default();
    let mut outcomes = Outcomes::default();
    let mut durations = Vec::new();
    let mut completed_at = Vec::new();
    let mut first_ms: Option<i64> = None;
    let mut last_ms: Option<i64> = as_of_ms;
    for e in entries {
        *row_states.entry(e.state.as_str().to_string()).or_default() += 1;
        match e.state {
            RowState::Created => {}
            RowState::Invalid => {
                outcomes.invalid += 1;
                continue;
            }
            RowState::Existing => {
                outcomes.already_invited += 1;
                continue;
            }
            _ => {
                outcomes.not_sent += 1;
                continue;
            }
        }
        let status = e.inv_status.as_deref().unwrap_or("unknown");
        *invitations.entry(status.to_string()).or_default() += 1;
        let l = &e.life;
        let done = status == "completed";
        let started = done
            || matches!(status, "in_progress" | "failed")
            || l.started_ms.is_some()
            || l.failed_ms.is_some();
        stages.invited += 1;
        stages.viewed += i64::from(started || l.viewed_ms.is_some());
        stages.started += i64::from(started);
        stages.completed += i64::from(done);
        match status {
            "expired" => outcomes.expired += 1,
            "cancelled" => outcomes.cancelled += 1,
            "failed" => outcomes.failed += 1,
            _ => {}
        }
        let created = l.created_ms.or(e.attempt_at_ms);
        if let Some(c) = created {
            first_ms = Some(first_ms.map_or(c, |f| f.min(c)));
        }
        if done && let Some(t) = l.completed_ms {
            completed_at.push(t);
            if let Some(c) = l.created_ms {
                durations.push((t - c).max(0));
            }
        }
        for t in [
            l.viewed_ms,
            l.started_ms,
            l.completed_ms,
            l.failed_ms,
            l.changed_ms,
        ]
        .into_iter()
        .flatten()
        {
            last_ms = Some(last_ms.map_or(t, |x| x.max(t)));
        }
    }
    durations.sort_unstable();
    let rows = entries.len() as i64;
    let of = stages.invited;
    let percent = Percent {
        viewed: percent(stages.viewed, of),
        started: percent(stages.started, of),
        completed: percent(stages.completed, of),
        expired: percent(outcomes.expired, of),
        cancelled: percent(outcomes.cancelled, of),
        failed: percent(outcomes.failed, of),
        invalid: percent(outcomes.invalid, rows),
        not_sent: percent(outcomes.not_sent, rows),
        already_invited: percent(outcomes.already_invited, rows),
    };
    let completions = match first_ms {
        Some(start) => timeline(start, last_ms.unwrap_or(start).max(start), &completed_at),
        None => Timeline::default(),
    };
    Funnel {
        name: name.to_string(),
        target: target.to_string(),
        as_of: as_of_ms.map(Timestamp::from_millis),
        refreshed,
        rows,
        row_states,
        invitations,
        funnel: stages,
        outcomes,
        percent,
        time_to_complete: TimeToComplete {
            measured: durations.len() as i64,
            median_seconds: quantile(&durations, 0.5),
            p90_seconds: quantile(&durations, 0.9),
        },
        completions,
    }
}

#[cfg(test)]
mod tests {
    use super::super::journal::Lifecycle;
    use super::*;

    const H: i64 = 3_600_000;

    fn row(state: RowState, status: Option<&str>, life: Lifecycle) -> Entry {
        Entry {
            key: format!("k{}", fastrand::u64(..)),
            line: Some(2),
            state,
            attempt_at_ms: Some(0),
            attempts: 1,
            invitation_id: status.map(|_| "inv".into()),
            url: None,
            inv_status: status.map(str::to_string),
            error_code: None,
            error_message: None,
            match_email: None,
            match_phone: None,
            updated_at_ms: 0,
            client_name: None,
            life,
        }
    }

    fn created(
        status: &str,
        viewed: Option<i64>,
        started: Option<i64>,
        done: Option<i64>,
    ) -> Entry {
        row(
            RowState::Created,
            Some(status),
            Lifecycle {
                created_ms: Some(0),
                viewed_ms: viewed,
                started_ms: started,
                completed_ms: done,
                changed_ms: Some(done.or(started).or(viewed).unwrap_or(0)),
                ..Lifecycle::default()
            },
        )
    }

    #[test]
    fn stages_include_the_ones_after_them_and_outcomes_sit_beside() {
        let rows = vec![
            created("pending", None, None, None),
            created("pending", Some(H), None, None),
            created("in_progress", Some(H), Some(2 * H), None),
            // A completion the API kept no viewedAt for still counts as viewed and started.
            created("completed", None, None, Some(10 * H)),
            created("completed", Some(H), Some(H), Some(3 * H)),
            created("expired", None, None, None),
            created("cancelled", Some(H), None, None),
            created("failed", Some(H), Some(H), None),
            row(RowState::Invalid, None, Lifecycle::default()),
            row(RowState::Failed, None, Lifecycle::default()),
        ];
        let f = compute("c", "http://x", &rows, Some(12 * H), true);
        assert_eq!(
            f.funnel,
            Stages {
                invited: 8,
                viewed: 6,
                started: 4,
                completed: 2
            }
        );
        assert_eq!(
            f.outcomes,
            Outcomes {
                expired: 1,
                cancelled: 1,
                failed: 1,
                invalid: 1,
                not_sent: 1,
                already_invited: 0
            }
        );
        assert_eq!(f.percent.completed, 25.0);
        assert_eq!(f.percent.viewed, 75.0);
        assert_eq!(f.percent.invalid, 10.0);
        assert_eq!(f.invitations.get("pending"), Some(&2));
        assert_eq!(f.row_states.get("created"), Some(&8));
        // 3 h and 10 h: the median is the lower one, p90 the higher (nearest rank).
        assert_eq!(f.time_to_complete.median_seconds, Some(3.0 * 3600.0));
        assert_eq!(f.time_to_complete.p90_seconds, Some(10.0 * 3600.0));
        let t = &f.completions;
        assert_eq!(t.bucket, "hour");
        assert_eq!(t.buckets.len(), 13);
        assert_eq!(t.buckets[3].completed, 1);
        assert_eq!(t.buckets[10].completed, 1);
        assert_eq!(t.buckets.last().unwrap().cumulative, 2);
    }

    #[test]
    fn long_campaigns_get_wider_buckets_and_empty_ones_no_chart() {
        let rows = vec![created("completed", None, None, Some(40 * 24 * H))];
        let f = compute("c", "x", &rows, None, false);
        assert_eq!(f.completions.bucket, "day");
        assert!(f.completions.buckets.len() as i64 <= MAX_BUCKETS);
        let f = compute("c", "x", &[], None, false);
        assert!(f.completions.buckets.is_empty());
        assert_eq!(f.time_to_complete.median_seconds, None);
        assert_eq!(f.percent.completed, 0.0);
    }

    #[test]
    fn each_row_shows_its_status_change_and_error() {
        let mut bad = row(RowState::Invalid, None, Lifecycle::default());
        bad.error_message = Some("clientEmail: not an email".into());
        bad.updated_at_ms = 7;
        assert_eq!(row_status(&bad), "invalid");
        assert_eq!(
            row_error(&bad).as_deref(),
            Some("clientEmail: not an email")
        );
        assert_eq!(last_change_ms(&bad), 7);
        let mut expired = created("expired", None, None, None);
        expired.life.expires_ms = Some(99);
        assert_eq!(last_change_ms(&expired), 99);
        let mut failed = created("failed", Some(1), Some(2), None);
        failed.life.failure_reason = Some("signup_abandoned".into());
        assert_eq!(row_error(&failed).as_deref(), Some("signup_abandoned"));
        assert_eq!(
            row_status(&row(RowState::Unknown, None, Lifecycle::default())),
            "unconfirmed"
        );
    }
}
