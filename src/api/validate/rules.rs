//! The contract's rules that many requests share: limits and defaults, the shapes of
//! E.164 phones, emails and country codes (and their normalised forms, which identify a
//! client across runs), a list call's `limit`, and the "did you mean" every unknown
//! name gets.

use crate::api::error::FieldError;

pub const CONNECTION_TYPES: &[&str] = &["whatsapp_waba", "messenger"];
pub const MAX_CLIENT_NAME_CHARS: usize = 100;
pub const EXPIRES_IN_DAYS: std::ops::RangeInclusive<i64> = 1..=30;
pub const DEFAULT_EXPIRES_IN_DAYS: i64 = 7;
pub const LIST_LIMIT: std::ops::RangeInclusive<i64> = 1..=100;
pub const DEFAULT_LIST_LIMIT: i64 = 50;

/// E.164: a plus, a non-zero digit, at most 15 digits in all.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Deliverability is the server's business; this catches typos and swapped columns.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 254
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
}

/// An ISO 3166-1 alpha-2 shape: exactly two ASCII letters.
pub fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Normalised key for matching a client across runs: the email lower-cased, or the phone
/// with only its plus and digits.
pub fn normalize_email(s: &str) -> String {
    s.trim().to_lowercase()
}

pub fn normalize_phone(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

/// The closest known name to a misspelt one, if any is close enough to be a typo.
pub fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = word.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Checks a list call's `limit`.
pub fn list_limit(limit: Option<i64>) -> Result<i64, FieldError> {
    match limit {
        None => Ok(DEFAULT_LIST_LIMIT),
        Some(l) if LIST_LIMIT.contains(&l) => Ok(l),
        Some(l) => Err(FieldError::new(
            &["limit"],
            format!("must be between 1 and 100 (got {l})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_and_email_shapes() {
        assert!(is_e164("+14155551234"));
        assert!(!is_e164("14155551234"));
        assert!(!is_e164("+04155551234"));
        assert!(!is_e164("+1415555123456789"));
        assert!(is_email("contact@acme.com"));
        assert!(!is_email("contact@acme"));
        assert!(!is_email("a b@acme.com"));
        assert!(!is_email("@acme.com"));
    }
}
