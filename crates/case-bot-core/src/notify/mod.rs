//! Pushed notifications: AWS's replies and the status changes that need people, told to the
//! groups that follow each case, exactly once.
//!
//! - **Follows** (`follows.rs`): a group follows the cases opened from it, and any case an
//!   admin follows with `关注`. Per-group settings say which severities and kinds are pushed.
//! - **The watcher** (`watch.rs`): polls AWS (one DescribeCases per 100 followed cases), or is
//!   told by an EventBridge "Support Case Update" event which case to look at.
//! - **Cursors** (`updates.rs`): per case, the last status and the newest communication seen.
//!   What is newer than the cursor is an update. The cursor moves by compare-and-set together
//!   with the outbox entries of its updates (`RecordSwap`), so two pollers, a
//!   redelivered event or a restart never tell a group twice, and a crash between the two
//!   cannot lose an update.
//! - **Messages** (`message.rs`): markdown with the robot's keyword, the group's time zone, the
//!   console link of the partition, an @-mention of the opener, and how to answer.

pub(crate) mod commands;
pub(crate) mod event;
pub(crate) mod follows;
pub(crate) mod message;
pub(crate) mod updates;
pub(crate) mod watch;

use std::time::Duration;

use clap::{Args, ValueEnum};

pub use event::CaseEvent;

/// How pushed messages reach a group.
///
/// ```
/// use clap::ValueEnum as _;
/// assert_eq!(case_bot_core::PushVia::from_str("openapi", true), Ok(case_bot_core::PushVia::OpenApi));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum PushVia {
    /// The robot OpenAPI when the app key is known, otherwise the custom group robot.
    #[default]
    Auto,
    /// The robot OpenAPI (`groupMessages/send`, permission `qyapi_robot_sendmsg`): any group
    /// the robot is in.
    #[value(name = "openapi", alias = "open-api")]
    OpenApi,
    /// The custom group robot webhook (`DINGTALK_ACCESS_TOKEN`): its one group only.
    Webhook,
}

/// The settings of pushed notifications (flags of `case-bot serve`, variables of the Lambda).
///
/// ```
/// let notify = case_bot_core::NotifyConfig::default();
/// assert_eq!((notify.keyword.as_str(), notify.time_zone_minutes), ("AWS", 480));
/// assert_eq!(notify.watch_interval, std::time::Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[non_exhaustive]
pub struct NotifyConfig {
    /// How pushed messages reach a group.
    #[arg(
        long,
        env = "CASE_BOT_PUSH_VIA",
        value_enum,
        ignore_case = true,
        default_value = "auto"
    )]
    pub push_via: PushVia,
    /// DingTalk's OpenAPI origin (access tokens, group sends).
    #[arg(long, env = "DINGTALK_OPENAPI_BASE", default_value = dingtalk_robot::DEFAULT_OPENAPI_BASE)]
    pub dingtalk_openapi_base: String,
    /// The app key (Client ID), if the secret has no `app_key`.
    #[arg(long, env = "DINGTALK_APP_KEY")]
    pub app_key: Option<String>,
    /// The robot code, if the secret has no `robot_code` (default: the app key).
    #[arg(long, env = "DINGTALK_ROBOT_CODE")]
    pub robot_code: Option<String>,
    /// How often the watcher polls AWS for followed cases (`60s`, `5m`; `0` turns it off).
    #[arg(long, env = "CASE_BOT_WATCH_INTERVAL", default_value = "60s", value_parser = duration)]
    pub watch_interval: Duration,
    /// A word every pushed message contains: the group robot's security keyword.
    #[arg(long, env = "CASE_BOT_KEYWORD", default_value = "AWS")]
    pub keyword: String,
    /// The groups' time zone, as an offset from UTC (`+08:00`); a group may set its own
    /// (`通知 时区 +09:00`).
    #[arg(long = "time-zone", env = "CASE_BOT_TIME_ZONE", default_value = "+08:00", value_parser = utc_offset)]
    pub time_zone_minutes: i32,
    /// Remind a group when a case has waited on the customer this long (`4h`; off by
    /// default).
    #[arg(long, env = "CASE_BOT_REMIND_AFTER", value_parser = duration)]
    pub remind_after: Option<Duration>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            push_via: PushVia::Auto,
            dingtalk_openapi_base: dingtalk_robot::DEFAULT_OPENAPI_BASE.to_owned(),
            app_key: None,
            robot_code: None,
            watch_interval: Duration::from_secs(60),
            keyword: "AWS".to_owned(),
            time_zone_minutes: 480,
            remind_after: None,
        }
    }
}

/// `90s`, `5m`, `4h`, `250ms` or a number of seconds.
fn duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{value}` is not a duration such as 90s, 5m or 4h"))?;
    Ok(match unit.trim() {
        "ms" => Duration::from_millis(number),
        "" | "s" => Duration::from_secs(number),
        "m" | "min" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        _ => return Err(format!("`{value}` is not a duration such as 90s, 5m or 4h")),
    })
}

/// `+08:00`, `-05:30`, `UTC+8` or `8`: minutes east of UTC.
fn utc_offset(value: &str) -> Result<i32, String> {
    support_commands::parse_utc_offset(value)
        .ok_or_else(|| format!("`{value}` is not a UTC offset such as +08:00"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_offsets_read_as_people_write_them() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("4h"), Ok(Duration::from_secs(14_400)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert!(duration("soon").unwrap_err().contains("90s"));
        assert_eq!(utc_offset("+08:00"), Ok(480));
        assert_eq!(utc_offset("UTC+8"), Ok(480));
        assert_eq!(utc_offset("-05:30"), Ok(-330));
        assert!(utc_offset("+25:00").is_err());
    }
}
