//! Which failures are worth retrying, and how long to wait: exponential backoff with full jitter, always inside
//! the caller's total time budget (a bad configuration must fail fast, a throttled one must not fail at all).

use std::time::Duration;

use keyless_net::http::RetryPolicy;

/// The waits between STS attempts: full-jitter exponential backoff from 200 ms, each wait at most 5 s. The
/// attempts are not counted: the caller's time budget ends them.
pub const POLICY: RetryPolicy = RetryPolicy {
    attempts: u32::MAX,
    base_delay: Duration::from_millis(200),
    max_delay: Duration::from_secs(5),
};

/// Error codes STS documents as transient.
pub fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "IDPCommunicationError"
            | "ServiceUnavailable"
            | "InternalFailure"
            | "InternalError"
            | "RequestTimeout"
    )
}

/// HTTP statuses worth retrying: 5xx and 429 (keyless-net's rule for every client).
pub fn is_retryable_status(status: u16) -> bool {
    keyless_net::http::StatusCode::from_u16(status)
        .is_ok_and(keyless_net::http::is_retryable_status)
}

/// The wait before retry number `attempt` (1-based): uniform in `[0, min(5 s, 200 ms · 2^(attempt-1))]`
/// ([`RetryPolicy::delay`], the one backoff of keyless-net's clients).
pub fn backoff(attempt: u32) -> Duration {
    POLICY.delay(attempt, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        assert!(is_retryable_code("IDPCommunicationError"));
        assert!(is_retryable_code("Throttling"));
        assert!(!is_retryable_code("AccessDenied"));
        assert!(!is_retryable_code("InvalidIdentityToken"));
        assert!(is_retryable_status(503) && is_retryable_status(429) && !is_retryable_status(403));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..40 {
            let ceiling = POLICY
                .base_delay
                .saturating_mul(1u32 << (attempt - 1).min(16))
                .min(POLICY.max_delay);
            for _ in 0..20 {
                assert!(backoff(attempt) <= ceiling);
            }
        }
        assert!(backoff(1) <= Duration::from_millis(200));
        assert!(backoff(30) <= Duration::from_secs(5));
        // Jitter: not always the same value.
        let values: std::collections::BTreeSet<_> = (0..50).map(|_| backoff(5)).collect();
        assert!(values.len() > 1);
    }
}
