//! Reconciliation: deciding, for rows whose create may or may not have happened, whether
//! the server holds an invitation that attempt made — by reading the server's own list,
//! never by guessing.
//!
//! The list is walked newest first and only back to the earliest attempt (minus the
//! allowance for clock difference), so the cost is proportional to what happened since,
//! not to the project's history. A match is the same normalised email (or, for rows
//! without one, phone) created at or after the attempt; an older invitation for the same
//! client is not a match — they may be re-invited on purpose.

use crate::api::validate::{normalize_email, normalize_phone};
use crate::api::{Invitation, ListInvitations};
use crate::client::{ApiClient, ClientError};
use std::collections::{HashMap, HashSet};

/// A row whose outcome is unknown.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub key: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// When the attempt began, on our clock.
    pub attempt_at_ms: i64,
}

/// How our clock relates to the server's: `server ≈ ours + offset`, give or take `margin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skew {
    pub offset_ms: i64,
    pub margin_ms: i64,
}

impl Skew {
    /// With nothing measured: assume the clocks agree within two minutes.
    pub const UNMEASURED: Skew = Skew {
        offset_ms: 0,
        margin_ms: 120_000,
    };

    /// The earliest server time an invitation made by an attempt at `at_ms` can carry.
    fn earliest(&self, at_ms: i64) -> i64 {
        at_ms + self.offset_ms - self.margin_ms
    }
}

/// Measures the offset from creates that succeeded: `createdAt` is the server's clock at
/// the moment of creation, which lies between our send and our receipt of the answer.
#[derive(Clone, Debug, Default)]
pub struct SkewMeter {
    low: Option<i64>,
    high: Option<i64>,
}

impl SkewMeter {
    /// `sent_ms`/`received_ms` on our clock, `created_ms` on the server's.
    pub fn observe(&mut self, sent_ms: i64, received_ms: i64, created_ms: i64) {
        // server − ours lies in [created − received, created − sent].
        let lo = created_ms - received_ms;
        let hi = created_ms - sent_ms;
        self.low = Some(self.low.map_or(lo, |l| l.min(lo)));
        self.high = Some(self.high.map_or(hi, |h| h.max(hi)));
    }

    pub fn skew(&self) -> Option<Skew> {
        let (lo, hi) = (self.low?, self.high?);
        Some(Skew {
            offset_ms: (lo + hi) / 2,
            // Half the spread, plus room for timestamps rounded to the millisecond and a
            // little drift.
            margin_ms: (hi - lo) / 2 + 2_000,
        })
    }
}

fn normalized(inv: &Invitation) -> (Option<String>, Option<String>) {
    (
        inv.client_email.as_deref().map(normalize_email),
        inv.client_phone.as_deref().map(normalize_phone),
    )
}

/// Pure matching: pending rows against invitations (any order). Each invitation is given
/// to one row at most; a row takes the earliest invitation created after its attempt.
pub fn match_rows(
    pending: &[Pending],
    invitations: &[Invitation],
    skew: Skew,
) -> HashMap<String, Invitation> {
    let mut by_time: Vec<&Invitation> = invitations.iter().collect();
    by_time.sort_by_key(|i| (i.created_at, i.id.clone()));
    let mut taken = HashSet::new();
    let mut out = HashMap::new();
    let mut rows: Vec<&Pending> = pending.iter().collect();
    rows.sort_by_key(|p| p.attempt_at_ms);
    for row in rows {
        let earliest = skew.earliest(row.attempt_at_ms);
        let found = by_time.iter().find(|inv| {
            if taken.contains(&inv.id) || inv.created_at.millis() < earliest {
                return false;
            }
            let (email, phone) = normalized(inv);
            match (&row.email, &row.phone) {
                (Some(e), _) => email.as_deref() == Some(e.as_str()),
                (None, Some(p)) => phone.as_deref() == Some(p.as_str()),
                (None, None) => false,
            }
        });
        if let Some(inv) = found {
            taken.insert(inv.id.clone());
            out.insert(row.key.clone(), (*inv).clone());
        }
    }
    out
}

/// Walks the server's invitations newest first, back to the earliest pending attempt, and
/// matches them to the pending rows. Returns the matches and how many invitations it read.
pub async fn reconcile(
    client: &ApiClient,
    pending: &[Pending],
    skew: Skew,
) -> Result<(HashMap<String, Invitation>, usize), ClientError> {
    let Some(horizon) = pending.iter().map(|p| skew.earliest(p.attempt_at_ms)).min() else {
        return Ok((HashMap::new(), 0));
    };
    let mut seen = Vec::new();
    let mut params = ListInvitations {
        limit: Some(100),
        ..Default::default()
    };
    loop {
        let page = client.list_invitations(&params).await?;
        let reached_horizon = page
            .items
            .last()
            .is_none_or(|i| i.created_at.millis() < horizon);
        let next = page.next().map(str::to_string);
        seen.extend(
            page.items
                .into_iter()
                .filter(|i| i.created_at.millis() >= horizon),
        );
        match next {
            Some(c) if !reached_horizon => params.cursor = Some(c),
            _ => break,
        }
    }
    let read = seen.len();
    Ok((match_rows(pending, &seen, skew), read))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{InvitationStatus, Timestamp};

    fn inv(id: &str, email: &str, created: i64) -> Invitation {
        Invitation {
            id: id.into(),
            token: "t".into(),
            url: "u".into(),
            status: InvitationStatus::Pending,
            client_name: None,
            client_email: Some(email.into()),
            client_phone: None,
            phone_number_id: None,
            connection_type: None,
            sender_id: None,
            connected_account: None,
            expires_at: Timestamp::from_millis(created + 1),
            created_at: Timestamp::from_millis(created),
            updated_at: Timestamp::from_millis(created),
            viewed_at: None,
            started_at: None,
            completed_at: None,
            failed_at: None,
            failure_reason: None,
        }
    }

    fn pending(key: &str, at: i64) -> Pending {
        Pending {
            key: key.into(),
            email: Some(key.into()),
            phone: None,
            attempt_at_ms: at,
        }
    }

    const EXACT: Skew = Skew {
        offset_ms: 0,
        margin_ms: 0,
    };

    #[test]
    fn an_older_invitation_for_the_same_client_is_not_a_match() {
        let invs = [inv("old", "a@x.co", 500), inv("new", "A@X.co", 1_200)];
        let m = match_rows(&[pending("a@x.co", 1_000)], &invs, EXACT);
        assert_eq!(
            m["a@x.co"].id, "new",
            "case-insensitive email, created after the attempt"
        );
        let m = match_rows(&[pending("a@x.co", 1_000)], &invs[..1], EXACT);
        assert!(m.is_empty());
    }

    #[test]
    fn the_skew_allowance_widens_the_window() {
        let invs = [inv("early", "a@x.co", 900)];
        let skew = Skew {
            offset_ms: -50,
            margin_ms: 100,
        };
        assert_eq!(
            match_rows(&[pending("a@x.co", 1_000)], &invs, skew).len(),
            1
        );
    }

    #[test]
    fn each_invitation_is_adopted_once_by_the_earliest_attempt() {
        let invs = [inv("i1", "a@x.co", 1_100), inv("i2", "a@x.co", 2_100)];
        let rows = [pending("a@x.co", 2_000), pending("a@x.co", 1_000)];
        // Two attempts for one email can only happen across keys; the rule still holds.
        let rows = [
            Pending {
                key: "k2".into(),
                ..rows[0].clone()
            },
            Pending {
                key: "k1".into(),
                ..rows[1].clone()
            },
        ];
        let m = match_rows(&rows, &invs, EXACT);
        assert_eq!(m["k1"].id, "i1");
        assert_eq!(m["k2"].id, "i2");
    }

    #[test]
    fn phone_matches_rows_without_email() {
        let mut i = inv("p", "x@x.co", 1_500);
        i.client_email = None;
        i.client_phone = Some("+14155551234".into());
        let row = Pending {
            key: "+14155551234".into(),
            email: None,
            phone: Some("+14155551234".into()),
            attempt_at_ms: 1_000,
        };
        assert_eq!(match_rows(&[row], &[i], EXACT).len(), 1);
    }

    #[test]
    fn skew_meter_brackets_the_offset() {
        let mut m = SkewMeter::default();
        m.observe(1_000, 1_100, 5_050); // server 4 s ahead
        m.observe(2_000, 2_040, 6_010);
        let s = m.skew().unwrap();
        assert!(s.offset_ms >= 3_950 && s.offset_ms <= 4_050, "{s:?}");
        assert!(s.margin_ms >= 2_000);
    }
}
