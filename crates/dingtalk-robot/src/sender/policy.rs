//! How fast a sender may post, and when it tries again.

use std::time::Duration;

/// How many messages one robot may send to one conversation in a time window.
///
/// ```
/// use dingtalk_robot::RateLimit;
/// let limit = RateLimit::default();
/// assert_eq!((limit.max, limit.per.as_secs()), (20, 60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Messages allowed per window.
    pub max: u32,
    /// The sliding window.
    pub per: Duration,
}

impl RateLimit {
    /// A limit of `max` messages per `per`.
    ///
    /// ```
    /// let limit = dingtalk_robot::RateLimit::new(5, std::time::Duration::from_secs(1));
    /// # let _ = limit;
    /// ```
    #[must_use]
    pub fn new(max: u32, per: Duration) -> Self {
        Self {
            max: max.max(1),
            per,
        }
    }
}

impl Default for RateLimit {
    /// DingTalk's documented 20 messages a minute.
    fn default() -> Self {
        Self::new(20, Duration::from_secs(60))
    }
}

/// When and how often a send is tried again.
///
/// ```
/// use dingtalk_robot::RetryPolicy;
/// let policy = RetryPolicy::default();
/// // DingTalk blocks a throttled robot for 10 minutes; the defaults wait that out.
/// assert!(policy.rate_limited_wait * policy.rate_limited_retries >= std::time::Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Wait after an errcode 130101 before trying again.
    pub rate_limited_wait: Duration,
    /// Retries after errcode 130101 before giving up with [`Error::RateLimited`](crate::Error::RateLimited).
    pub rate_limited_retries: u32,
    /// First wait after a transport error or HTTP 5xx; doubles each time.
    pub transient_backoff: Duration,
    /// Retries after a transport error or HTTP 5xx.
    pub transient_retries: u32,
}

impl RetryPolicy {
    /// How long to wait after an errcode 130101 before trying again.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = dingtalk_robot::RetryPolicy::default().rate_limited_wait(Duration::from_secs(30));
    /// assert_eq!(policy.rate_limited_wait, Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn rate_limited_wait(mut self, wait: Duration) -> Self {
        self.rate_limited_wait = wait;
        self
    }

    /// How many times to try again after errcode 130101.
    ///
    /// ```
    /// let policy = dingtalk_robot::RetryPolicy::default().rate_limited_retries(3);
    /// assert_eq!(policy.rate_limited_retries, 3);
    /// ```
    #[must_use]
    pub fn rate_limited_retries(mut self, retries: u32) -> Self {
        self.rate_limited_retries = retries;
        self
    }

    /// The first wait after a transport error or HTTP 5xx; it doubles with each retry.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = dingtalk_robot::RetryPolicy::default().transient_backoff(Duration::from_millis(100));
    /// assert_eq!(policy.transient_backoff, Duration::from_millis(100));
    /// ```
    #[must_use]
    pub fn transient_backoff(mut self, backoff: Duration) -> Self {
        self.transient_backoff = backoff;
        self
    }

    /// How many times to try again after a transport error or HTTP 5xx.
    ///
    /// ```
    /// let policy = dingtalk_robot::RetryPolicy::default().transient_retries(0);
    /// assert_eq!(policy.transient_retries, 0);
    /// ```
    #[must_use]
    pub fn transient_retries(mut self, retries: u32) -> Self {
        self.transient_retries = retries;
        self
    }
}

impl Default for RetryPolicy {
    /// A minute's wait after errcode 130101, 11 times (DingTalk blocks a throttled robot for
    /// 10 minutes), and 0.5 s then 1 s after a transport error or HTTP 5xx.
    fn default() -> Self {
        Self {
            rate_limited_wait: Duration::from_secs(60),
            rate_limited_retries: 11,
            transient_backoff: Duration::from_millis(500),
            transient_retries: 2,
        }
    }
}
