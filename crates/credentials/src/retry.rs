//! Which failures are worth retrying, and how long to wait: exponential backoff with full jitter, always inside
//! the caller's total time budget (a bad configuration must fail fast, a throttled one must not fail at all).

use std::time::Duration;

use rand::Rng;

/// First backoff ceiling.
pub const BASE: Duration = Duration::from_millis(200);
/// Largest backoff ceiling.
pub const CAP: Duration = Duration::from_secs(5);

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

/// HTTP statuses worth retrying: 5xx and 429.
pub fn is_retryable_status(status: u16) -> bool {
    status >= 500 || status == 429
}

/// Full-jitter backoff for the given attempt (1-based): uniform in `[0, min(CAP, BASE * 2^(attempt-1))]`.
pub fn backoff(attempt: u32, rng: &mut impl Rng) -> Duration {
    let ceiling = BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(CAP);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.random_range(0..=millis))
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
        let mut rng = rand::rng();
        for attempt in 1..40 {
            let ceiling = BASE.saturating_mul(1u32 << (attempt - 1).min(16)).min(CAP);
            for _ in 0..20 {
                assert!(backoff(attempt, &mut rng) <= ceiling);
            }
        }
        // Jitter: not always the same value.
        let values: std::collections::BTreeSet<_> = (0..50).map(|_| backoff(5, &mut rng)).collect();
        assert!(values.len() > 1);
    }
}
