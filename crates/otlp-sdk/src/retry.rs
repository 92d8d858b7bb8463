//! [`RetryPolicy`]: when and how long to wait before sending a failed export again.
//!
//! The rules are those of the OTLP specification: retry only transient failures (the gRPC codes in
//! [`is_retryable_grpc`], HTTP 429/502/503/504, connection failures), wait an exponentially growing,
//! jittered delay unless the server asked for one (`Retry-After`, gRPC `RetryInfo`), and never wait
//! past the export deadline.

use crate::error::{Error, GaveUp};
use otlp_proto::grpc::code;
use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// How an exporter retries transient failures.
///
/// Retries never outlive the export deadline
/// ([`ExporterConfig::with_timeout`](crate::ExporterConfig::with_timeout)): when the next attempt
/// could not start before it, the export fails at once with an error for which
/// [`Error::is_retryable_exhausted`] and [`Error::is_timeout`] hold.
///
/// ```
/// use otlp::RetryPolicy;
/// use std::time::Duration;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(3)
///     .with_initial_backoff(Duration::from_millis(200));
/// assert_eq!(policy.max_attempts(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    enabled: bool,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            enabled: true,
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            multiplier: 1.5,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries: every export is a single attempt.
    pub fn disabled() -> Self {
        RetryPolicy::default().with_enabled(false)
    }

    /// Whether failures are retried at all. Default: `true`.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Attempts per export, the first one included (at least 1). Default: 5.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The base delay before the first retry. Default: 1 s.
    pub fn with_initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// The largest base delay between two attempts. Default: 5 s.
    pub fn with_max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// How much the base delay grows after each retry (at least 1.0). Default: 1.5.
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        // NaN and values below 1 would shrink or poison the delay.
        self.multiplier = if multiplier >= 1.0 { multiplier } else { 1.0 };
        self
    }

    /// Whether failures are retried.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Attempts per export, the first one included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The base delay before the first retry.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The largest base delay.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The growth factor of the base delay.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// The base delay before retry number `retry` (1 for the first retry), before jitter:
    /// `initial × multiplier^(retry-1)`, at most the maximum backoff.
    pub(crate) fn base_backoff(&self, retry: u32) -> Duration {
        let exp = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exp);
        let max = self.max_backoff.max(self.initial_backoff);
        if secs.is_finite() && secs < max.as_secs_f64() {
            Duration::from_secs_f64(secs)
        } else {
            max
        }
    }

    /// The jittered delay before retry number `retry`: uniform in `[base/2, base]`, so that
    /// clients failed by the same outage do not come back in lockstep, yet never hammer at once.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let base = self.base_backoff(retry);
        base.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// The gRPC status codes worth retrying, per the OTLP specification. `RESOURCE_EXHAUSTED` is
/// retryable only when the server says when to come back (a `RetryInfo` detail); otherwise the
/// limit is taken as permanent.
pub(crate) fn is_retryable_grpc(status: i32, has_retry_info: bool) -> bool {
    match status {
        code::CANCELLED
        | code::DEADLINE_EXCEEDED
        | code::ABORTED
        | code::OUT_OF_RANGE
        | code::UNAVAILABLE
        | code::DATA_LOSS => true,
        code::RESOURCE_EXHAUSTED => has_retry_info,
        _ => false,
    }
}

/// The HTTP statuses worth retrying, per the OTLP specification.
pub(crate) fn is_retryable_http(status: http::StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date (a date in the past means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Runs `attempt` until it succeeds, fails for good, or the policy or the deadline says stop.
/// Returns the result and the number of attempts made.
///
/// The closure gets the attempt number (1-based). It must send the same bytes every time: the
/// body is encoded once, before the first attempt.
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    timeout: Duration,
    mut attempt: F,
) -> (Result<T, Error>, u32)
where
    F: FnMut(u32, Instant) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let deadline = Instant::now() + timeout;
    let mut n = 0;
    let mut last: Option<Error> = None;
    loop {
        n += 1;
        let err = match tokio::time::timeout_at(deadline, attempt(n, deadline)).await {
            Ok(Ok(v)) => return (Ok(v), n),
            Ok(Err(e)) => e,
            // Cut short by the deadline: an earlier attempt's failure is the cause worth
            // reporting (the receiver refusing connections, say), not the cut.
            Err(_) => match last {
                Some(e) => return (Err(e.gave_up(GaveUp::Deadline(timeout))), n),
                None => {
                    let msg = format!("no answer within the {timeout:?} export deadline");
                    return (Err(Error::new(crate::error::Kind::Timeout, msg)), n);
                }
            },
        };
        if !err.is_retryable() {
            return (Err(err), n);
        }
        if !policy.enabled {
            return (Err(err.gave_up(GaveUp::Disabled)), n);
        }
        if n >= policy.max_attempts {
            return (Err(err.gave_up(GaveUp::MaxAttempts)), n);
        }
        // A delay the server asked for replaces the backoff; it is honoured, not shortened.
        let delay = err.retry_after().unwrap_or_else(|| policy.backoff(n));
        if Instant::now() + delay >= deadline {
            return (Err(err.gave_up(GaveUp::Deadline(timeout))), n);
        }
        tokio::time::sleep(delay).await;
        last = Some(err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use std::cell::Cell;

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_bounds() {
        let p = RetryPolicy::default()
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_millis(1000))
            .with_multiplier(2.0);
        assert_eq!(p.base_backoff(1), Duration::from_millis(100));
        assert_eq!(p.base_backoff(2), Duration::from_millis(200));
        assert_eq!(p.base_backoff(4), Duration::from_millis(800));
        assert_eq!(p.base_backoff(5), Duration::from_millis(1000));
        assert_eq!(p.base_backoff(u32::MAX), Duration::from_millis(1000));
        for retry in 1..10 {
            let base = p.base_backoff(retry);
            for _ in 0..200 {
                let d = p.backoff(retry);
                assert!(
                    d >= base / 2 && d <= base,
                    "{d:?} outside [{:?}, {base:?}]",
                    base / 2
                );
            }
        }
    }

    #[test]
    fn silly_settings_are_clamped() {
        let p = RetryPolicy::default()
            .with_max_attempts(0)
            .with_multiplier(f64::NAN);
        assert_eq!(p.max_attempts(), 1);
        assert_eq!(p.multiplier(), 1.0);
        assert!(!RetryPolicy::disabled().enabled());
    }

    #[test]
    fn retryable_grpc_codes_follow_the_spec() {
        let retryable = [
            code::CANCELLED,
            code::DEADLINE_EXCEEDED,
            code::ABORTED,
            code::OUT_OF_RANGE,
            code::UNAVAILABLE,
            code::DATA_LOSS,
        ];
        for c in 0..=16 {
            assert_eq!(
                is_retryable_grpc(c, false),
                retryable.contains(&c),
                "code {c}"
            );
        }
        assert!(!is_retryable_grpc(code::RESOURCE_EXHAUSTED, false));
        assert!(is_retryable_grpc(code::RESOURCE_EXHAUSTED, true));
        assert!(!is_retryable_grpc(code::INVALID_ARGUMENT, true));
    }

    #[test]
    fn retryable_http_statuses_follow_the_spec() {
        for s in 100..600u16 {
            let status = http::StatusCode::from_u16(s).expect("valid status");
            assert_eq!(
                is_retryable_http(status),
                [429, 502, 503, 504].contains(&s),
                "{s}"
            );
        }
    }

    #[test]
    fn retry_after_in_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").expect("date");
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    fn transient() -> Error {
        Error::new(Kind::Connect, "refused").retryable()
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_success() {
        let calls = Cell::new(0);
        let (res, n) = run(&RetryPolicy::default(), Duration::from_secs(60), |_, _| {
            calls.set(calls.get() + 1);
            let fail = calls.get() < 3;
            async move { if fail { Err(transient()) } else { Ok(7) } }
        })
        .await;
        assert_eq!(res.expect("third attempt succeeds"), 7);
        assert_eq!(n, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let (res, n) = run(
            &RetryPolicy::default(),
            Duration::from_secs(60),
            |_, _| async { Err::<(), _>(Error::new(Kind::Status, "400")) },
        )
        .await;
        let err = res.expect_err("fails");
        assert_eq!(n, 1);
        assert!(!err.is_retryable_exhausted());
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_max_attempts_or_when_disabled() {
        let policy = RetryPolicy::default().with_max_attempts(4);
        let (res, n) = run(&policy, Duration::from_secs(600), |_, _| async {
            Err::<(), _>(transient())
        })
        .await;
        assert_eq!(n, 4);
        assert!(res.expect_err("fails").is_retryable_exhausted());

        let (res, n) = run(
            &RetryPolicy::disabled(),
            Duration::from_secs(600),
            |_, _| async { Err::<(), _>(transient()) },
        )
        .await;
        assert_eq!(n, 1);
        let err = res.expect_err("fails");
        assert!(err.is_retryable_exhausted() && !err.is_timeout());
    }

    #[tokio::test(start_paused = true)]
    async fn never_sleeps_past_the_deadline() {
        let start = Instant::now();
        let policy = RetryPolicy::default().with_max_attempts(1000);
        let (res, n) = run(&policy, Duration::from_secs(10), |_, _| async {
            Err::<(), _>(transient())
        })
        .await;
        let err = res.expect_err("fails");
        assert!(err.is_timeout() && err.is_retryable_exhausted(), "{err:?}");
        assert!(n > 1);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn server_delay_is_honoured_and_bounded_by_the_deadline() {
        let start = Instant::now();
        let (res, n) = run(
            &RetryPolicy::default(),
            Duration::from_secs(60),
            |n, _| async move {
                if n == 1 {
                    Err(transient().with_retry_after(Some(Duration::from_secs(30))))
                } else {
                    Ok(())
                }
            },
        )
        .await;
        res.expect("second attempt succeeds");
        assert_eq!(n, 2);
        assert!(start.elapsed() >= Duration::from_secs(30));

        // Asked to wait longer than the deadline allows: give up now instead of sleeping.
        let (res, n) = run(
            &RetryPolicy::default(),
            Duration::from_secs(5),
            |_, _| async {
                Err::<(), _>(transient().with_retry_after(Some(Duration::from_secs(30))))
            },
        )
        .await;
        assert_eq!(n, 1);
        assert!(res.expect_err("fails").is_timeout());
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_in_flight_at_the_deadline_is_a_timeout() {
        let (res, n) = run(
            &RetryPolicy::default(),
            Duration::from_secs(5),
            |_, _| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            },
        )
        .await;
        let err = res.expect_err("times out");
        assert_eq!(n, 1);
        assert!(err.is_timeout() && !err.is_retryable_exhausted());
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_cutting_a_retry_short_reports_the_earlier_failure() {
        let calls = Cell::new(0);
        let policy = RetryPolicy::default().with_initial_backoff(Duration::from_millis(100));
        let (res, n) = run(&policy, Duration::from_secs(5), |_, _| {
            calls.set(calls.get() + 1);
            let first = calls.get() == 1;
            async move {
                if first {
                    return Err(transient());
                }
                // The retry hangs until the deadline cuts it.
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            }
        })
        .await;
        let err = res.expect_err("cut by the deadline");
        assert_eq!(n, 2);
        assert!(err.is_connect(), "the cause is kept: {err:?}");
        assert!(err.is_timeout() && err.is_retryable_exhausted(), "{err:?}");
    }
}
