//! The API key as a value that cannot leak by accident: its `Debug` and `Display` show only
//! the mode prefix (`zv_test_…`), and the journal and budget registry use a fingerprint, a
//! truncated SHA-256 that identifies the key without revealing it.

use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into().trim().to_string())
    }

    /// The secret itself; only the `Authorization` header should ever see it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `zv_live_…`, `zv_test_…` or `…`: enough to tell which project mode, nothing more.
    pub fn redacted(&self) -> String {
        for prefix in ["zv_live_", "zv_test_"] {
            if self.0.starts_with(prefix) {
                return format!("{prefix}…");
            }
        }
        "…".to_string()
    }

    /// 16 hex digits of SHA-256: stable per key, useless to an attacker.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        hex::encode(&digest[..8])
    }

    pub fn is_live(&self) -> bool {
        self.0.starts_with("zv_live_")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.redacted())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Whether a piece of text contains something shaped like a Zavu API key.
pub fn contains_key_literal(text: &str) -> bool {
    ["zv_live_", "zv_test_"].iter().any(|p| {
        text.match_indices(p).any(|(i, _)| {
            text[i + p.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_secret() {
        let k = ApiKey::new("zv_live_abcdef123456");
        assert_eq!(format!("{k}"), "zv_live_…");
        assert_eq!(format!("{k:?}"), "ApiKey(zv_live_…)");
        assert!(!k.fingerprint().contains("abcdef"));
        assert_eq!(k.fingerprint().len(), 16);
        assert!(k.is_live());
    }

    #[test]
    fn spots_key_literals() {
        assert!(contains_key_literal(
            "let c = zavu_client(#{apiKey: \"zv_live_abc\"})"
        ));
        assert!(!contains_key_literal(
            "keys start with zv_live_ or zv_test_"
        ));
    }
}
