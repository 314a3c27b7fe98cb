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

/// Default weight of the planarity signal in [`fuse`] (`OZ_PLANARITY_WEIGHT`), chosen with
/// `oz-server eval` (docs/CALIBRATION.md).
pub const DEFAULT_PLANARITY_WEIGHT: f32 = 0.75;

/// A video's `confidence_spoofing` from the model's score and the planarity signal (0..1, higher =
/// flatter = more likely a photo or screen; `None` when the face moved too little to tell):
/// `max(model, weight * planarity)`. Planarity can only raise the score: a flat face moved in
/// front of the camera is an attack whatever the model says, but a face that does not move says
/// nothing either way. Non-finite inputs count as 0 for the planarity and are kept for the model.
#[must_use]
pub fn fuse(model: f32, planarity: Option<f32>, weight: f32) -> f32 {
    let planar = planarity.filter(|v| v.is_finite()).map_or(0.0, |v| (v * weight.clamp(0.0, 1.0)).clamp(0.0, 1.0));
    model.max(planar)
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

    #[test]
    fn planarity_only_raises_the_score() {
        assert_eq!(fuse(0.1, None, 1.0), 0.1);
        assert_eq!(fuse(0.1, Some(0.9), 1.0), 0.9);
        assert!((fuse(0.1, Some(0.9), 0.5) - 0.45).abs() < 1e-6);
        assert_eq!(fuse(0.7, Some(0.0), 1.0), 0.7);
        assert_eq!(fuse(0.2, Some(0.9), 0.0), 0.2, "weight 0 turns it off");
        assert_eq!(fuse(0.2, Some(f32::NAN), 1.0), 0.2);
        assert_eq!(fuse(0.2, Some(3.0), 2.0), 1.0);
    }
}
