//! Cursor pagination over records kept in creation order: "newest first" pages walk that
//! order backwards, and a page's cursor names the last record it answered.
//!
//! Cursors are opaque and signed: `<seq in hex>.<tag>`, where the tag is a truncated
//! SHA-256 of the store's salt, the list's name and the sequence number. A cursor this
//! sandbox did not issue for that list — `cursor=cursor`, a typo, one from another list —
//! is refused (400), so a paginating loop fed a bad cursor fails at once instead of
//! starting over from the first page forever.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One stored item and its place in creation order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record<T> {
    pub seq: u64,
    #[serde(flatten)]
    pub item: T,
}

/// One page of a newest-first walk.
pub struct PageOut<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A cursor this sandbox did not issue for the list it was sent to.
#[derive(Debug, Clone, PartialEq)]
pub struct BadCursor(pub String);

/// Issues and reads the cursors of one store.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cursors {
    salt: String,
}

impl Default for Cursors {
    fn default() -> Self {
        Cursors {
            salt: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
        }
    }
}

impl Cursors {
    fn tag(&self, list: &str, seq: u64) -> String {
        let digest = Sha256::digest(format!("{}:{list}:{seq}", self.salt).as_bytes());
        hex::encode(&digest[..8])
    }

    pub fn issue(&self, list: &str, seq: u64) -> String {
        format!("{seq:x}.{}", self.tag(list, seq))
    }

    /// The sequence number a cursor continues after; `None` for the first page.
    pub fn read(&self, list: &str, cursor: Option<&str>) -> Result<Option<u64>, BadCursor> {
        let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let seq = cursor
            .split_once('.')
            .filter(|(seq, _)| seq.len() <= 16)
            .and_then(|(seq, tag)| {
                let seq = u64::from_str_radix(seq, 16).ok()?;
                (tag == self.tag(list, seq)).then_some(seq)
            });
        seq.map(Some).ok_or_else(|| {
            let shown: String = cursor.chars().take(64).collect();
            BadCursor(format!(
                "{shown:?} is not a cursor of this list: pass the previous page's nextCursor unchanged, or leave cursor out for the first page"
            ))
        })
    }

    /// Newest first, after the cursor, keeping what `keep` maps to `Some`.
    pub fn page<T, U>(
        &self,
        list: &str,
        records: &[Record<T>],
        cursor: Option<&str>,
        limit: usize,
        mut keep: impl FnMut(&T) -> Option<U>,
    ) -> Result<PageOut<U>, BadCursor> {
        let end = match self.read(list, cursor)? {
            Some(after) => records.partition_point(|r| r.seq < after),
            None => records.len(),
        };
        let mut items = Vec::with_capacity(limit.min(end));
        let mut last_seq = None;
        let mut more = false;
        for r in records[..end].iter().rev() {
            if let Some(u) = keep(&r.item) {
                if items.len() == limit {
                    more = true;
                    break;
                }
                items.push(u);
                last_seq = Some(r.seq);
            }
        }
        Ok(PageOut {
            items,
            next_cursor: if more {
                last_seq.map(|s| self.issue(list, s))
            } else {
                None
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: u64) -> Vec<Record<u32>> {
        (1..=n)
            .map(|i| Record {
                seq: i,
                item: i as u32,
            })
            .collect()
    }

    #[test]
    fn pages_visit_each_record_once_newest_first() {
        let c = Cursors::default();
        let seven = records(7);
        let mut seen = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let page = c
                .page("l", &seven, cursor.as_deref(), 3, |x| Some(*x))
                .unwrap();
            seen.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, vec![7, 6, 5, 4, 3, 2, 1]);
        let full = c.page("l", &records(4), None, 4, |x| Some(*x)).unwrap();
        assert!(
            full.next_cursor.is_none(),
            "the last page has no cursor, even when full"
        );
    }

    #[test]
    fn cursors_it_did_not_issue_are_refused() {
        let c = Cursors::default();
        let issued = c.issue("invitations", 5);
        assert_eq!(c.read("invitations", Some(&issued)), Ok(Some(5)));
        for bad in ["cursor", "5", "5.", "zz.00", &issued.replace('.', "")] {
            assert!(c.read("invitations", Some(bad)).is_err(), "{bad}");
        }
        assert!(
            c.read("messages", Some(&issued)).is_err(),
            "bound to its list"
        );
        assert!(
            Cursors::default()
                .read("invitations", Some(&issued))
                .is_err()
        );
        assert_eq!(c.read("invitations", None), Ok(None));
    }
}
