//! The sandbox's clock: real time plus an offset that only moves forward, through
//! `POST /_sandbox/clock`. Expiry, timestamps and message progress read this clock, so a
//! test can jump a week ahead instead of sleeping. Rate-limit windows deliberately do not:
//! they imitate a real server's wall clock, which a client paces against.

use crate::api::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn with_offset(offset_ms: i64) -> Self {
        Clock {
            offset_ms: AtomicI64::new(offset_ms),
        }
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(real_now_ms() + self.offset_ms())
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    pub fn advance(&self, seconds: i64) -> i64 {
        self.offset_ms
            .fetch_add(seconds.saturating_mul(1000), Ordering::SeqCst)
            .saturating_add(seconds.saturating_mul(1000))
    }

    pub fn restore(&self) {
        self.offset_ms.store(0, Ordering::SeqCst);
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn real_now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
