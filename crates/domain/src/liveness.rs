//! Liveness (Oz QUALITY analysis) verdicts.
//!
//! `confidence_spoofing` is in [0, 1], higher = more likely an attack. Oz: "If the resulting score
//! is higher than `threshold_spoofing`, the analysis ends up DECLINED. Otherwise SUCCESS."

use crate::status::ResolutionStatus;

/// Default `threshold_spoofing`, chosen with `oz-server eval` (docs/CALIBRATION.md).
pub const DEFAULT_THRESHOLD_SPOOFING: f32 = 0.42;

/// The verdict for one media: SUCCESS when `confidence_spoofing <= threshold`, else DECLINED.
#[must_use]
pub fn verdict(confidence_spoofing: f32, threshold_spoofing: f32) -> ResolutionStatus {
    if confidence_spoofing > threshold_spoofing { ResolutionStatus::Declined } else { ResolutionStatus::Success }
}

/// Lite image `detect`: `passed` is true when the media is judged live.
#[must_use]
pub fn passed(confidence_spoofing: f32, threshold_spoofing: f32) -> bool {
    verdict(confidence_spoofing, threshold_spoofing) == ResolutionStatus::Success
}

/// Checks a client-supplied threshold.
#[must_use]
pub fn valid_threshold(t: f64) -> bool {
    t.is_finite() && (0.0..=1.0).contains(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn above_threshold_is_declined() {
        assert_eq!(verdict(0.6, 0.5), ResolutionStatus::Declined);
        assert_eq!(verdict(0.5, 0.5), ResolutionStatus::Success);
        assert_eq!(verdict(0.01, 0.42), ResolutionStatus::Success);
        assert!(passed(0.1, 0.5));
        assert!(!passed(0.9995, 0.5));
        assert!(valid_threshold(0.0) && valid_threshold(1.0));
        assert!(!valid_threshold(-0.1) && !valid_threshold(f64::NAN) && !valid_threshold(1.01));
    }
}
