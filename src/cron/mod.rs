//! `zavu-script cron CRONTAB`: run scripts on cron schedules, in the foreground.

pub mod crontab;
pub mod duration;
pub mod plan;
pub mod schedule;
pub mod zone;
