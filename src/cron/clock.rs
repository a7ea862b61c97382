//! Where the scheduler's "now" comes from: the system clock in production, a clock a test
//! moves by hand elsewhere — so no test of a schedule ever sleeps.

use chrono::{DateTime, Utc};

/// Where the loop's "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
