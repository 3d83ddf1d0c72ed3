//! When to try a request again: connection errors, 5xx and 429, with exponential backoff, honouring the
//! server's `Retry-After`.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 4, first_delay: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1` (attempts count from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The pause the server asked for, capped so a hostile value cannot stall a pipeline.
    pub fn retry_after(&self, headers: &HeaderMap, attempt: u32) -> Duration {
        let asked = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        asked.map_or_else(|| self.backoff(attempt), |d| d.min(Duration::from_secs(60)))
    }
}

/// `Retry-After` is seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value.trim()).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

pub fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let delays: Vec<u128> = (1..=7).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let policy = RetryPolicy::default();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(policy.retry_after(&headers, 1), Duration::from_secs(3));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(policy.retry_after(&headers, 1), Duration::from_secs(60));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(10));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&soon).expect("header"));
        assert!(policy.retry_after(&headers, 1) <= Duration::from_secs(10));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(policy.retry_after(&headers, 2), Duration::from_millis(400));
    }
}
