//! Biometric scores and decisions (Oz API Lite `score` / `decision`, full API BIOMETRY).
//!
//! The embedder gives L2-normalised vectors compared by cosine similarity in [-1, 1].
//! Oz reports a score in [0, 1] where 1 means "same person". We map cosine to score with a
//! piecewise-linear curve anchored on two cosine points measured on real faces:
//!
//! | cosine            | score |
//! |-------------------|-------|
//! | <= 0.0            | 0.0   |
//! | `COS_ANCHOR_LOW`  (0.30) | 0.5  |
//! | `COS_ANCHOR_HIGH` (0.45) | 0.85 |
//! | >= 0.80           | 1.0   |
//!
//! Between anchors the mapping is linear, so it is monotonic and invertible. 0.30 lies just under
//! the published SFace "same person" cosine (0.363) and 0.45 above the highest different-person cosine
//! seen on our test set (0.354), see `docs/CALIBRATION.md`. The high anchor is placed at 0.85 because
//! that is Oz's documented default threshold for BIOMETRY and blacklist matches (spec §7.2): our
//! same-person point and Oz's threshold are the same number, so clients that hard-code 0.85 work.

use serde::{Deserialize, Serialize};

/// Cosine points of the piecewise-linear mapping, as (cosine, score).
const CURVE: [(f32, f32); 4] = [(0.0, 0.0), (0.30, 0.5), (0.45, 0.85), (0.80, 1.0)];

/// Maps a cosine similarity to an Oz score in [0, 1] (1 = same person).
#[must_use]
pub fn score_from_cosine(cosine: f32) -> f32 {
    if !cosine.is_finite() || cosine <= CURVE[0].0 {
        return 0.0;
    }
    for pair in CURVE.windows(2) {
        let (c0, s0) = pair[0];
        let (c1, s1) = pair[1];
        if cosine <= c1 {
            return s0 + (cosine - c0) * (s1 - s0) / (c1 - c0);
        }
    }
    1.0
}

/// Inverse of [`score_from_cosine`] on (0, 1): the cosine that gives `score`.
#[must_use]
pub fn cosine_from_score(score: f32) -> f32 {
    let score = score.clamp(0.0, 1.0);
    for pair in CURVE.windows(2) {
        let (c0, s0) = pair[0];
        let (c1, s1) = pair[1];
        if score <= s1 {
            return c0 + (score - s0) * (c1 - c0) / (s1 - s0);
        }
    }
    CURVE[CURVE.len() - 1].0
}

/// Oz API Lite biometric decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    OperatorRequired,
    Declined,
}

impl Decision {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::OperatorRequired => "operator_required",
            Decision::Declined => "declined",
        }
    }
}

/// Two score thresholds: `score >= approve` → approved; `score < decline` → declined; otherwise
/// operator_required. Invariant: `0 <= decline <= approve <= 1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecisionThresholds {
    pub approve: f32,
    pub decline: f32,
}

/// Error for thresholds that do not satisfy `0 <= decline <= approve <= 1`.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid thresholds: need 0 <= decline ({decline}) <= approve ({approve}) <= 1")]
pub struct InvalidThresholds {
    pub approve: f32,
    pub decline: f32,
}

impl DecisionThresholds {
    /// Shipped defaults: one threshold, Oz's 0.85 (spec §7.2), which our score curve puts at the
    /// same-person cosine chosen with `oz-server eval` (docs/CALIBRATION.md). No band, so no
    /// OPERATOR_REQUIRED unless a lower `decline` is configured (Oz: "only if configured").
    pub const DEFAULT: DecisionThresholds = DecisionThresholds { approve: 0.85, decline: 0.85 };

    pub fn new(approve: f32, decline: f32) -> Result<Self, InvalidThresholds> {
        let ok = (0.0..=1.0).contains(&approve) && (0.0..=1.0).contains(&decline) && decline <= approve;
        if ok { Ok(Self { approve, decline }) } else { Err(InvalidThresholds { approve, decline }) }
    }

    #[must_use]
    pub fn decide(&self, score: f32) -> Decision {
        if score >= self.approve {
            Decision::Approved
        } else if score < self.decline {
            Decision::Declined
        } else {
            Decision::OperatorRequired
        }
    }
}

impl Default for DecisionThresholds {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Rounds a score for the wire (6 decimals, like Oz's examples), keeping it in [0, 1].
#[must_use]
pub fn wire_score(score: f32) -> f64 {
    let s = f64::from(score.clamp(0.0, 1.0));
    (s * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_hits_anchors_and_is_monotonic() {
        assert_eq!(score_from_cosine(-0.5), 0.0);
        assert_eq!(score_from_cosine(0.0), 0.0);
        assert!((score_from_cosine(0.30) - 0.5).abs() < 1e-6);
        assert!((score_from_cosine(0.45) - 0.85).abs() < 1e-6);
        assert_eq!(score_from_cosine(0.95), 1.0);
        assert_eq!(score_from_cosine(f32::NAN), 0.0);
        let mut prev = 0.0;
        for i in -100..=100 {
            let s = score_from_cosine(i as f32 / 100.0);
            assert!(s >= prev && (0.0..=1.0).contains(&s));
            prev = s;
        }
    }

    #[test]
    fn inverse_round_trips() {
        for i in 1..100 {
            let s = i as f32 / 100.0;
            assert!((score_from_cosine(cosine_from_score(s)) - s).abs() < 1e-5);
        }
    }

    #[test]
    fn decisions_follow_thresholds() {
        let t = DecisionThresholds::new(0.8, 0.5).expect("valid");
        assert_eq!(t.decide(0.9), Decision::Approved);
        assert_eq!(t.decide(0.8), Decision::Approved);
        assert_eq!(t.decide(0.79), Decision::OperatorRequired);
        assert_eq!(t.decide(0.5), Decision::OperatorRequired);
        assert_eq!(t.decide(0.49), Decision::Declined);
        assert!(DecisionThresholds::new(0.4, 0.5).is_err());
        assert!(DecisionThresholds::new(1.2, 0.5).is_err());
        assert_eq!(Decision::OperatorRequired.as_str(), "operator_required");
        // The default has no band: approved or declined at Oz's 0.85, never operator_required.
        let d = DecisionThresholds::DEFAULT;
        assert_eq!((d.approve, d.decline), (0.85, 0.85));
        assert_eq!(d.decide(0.85), Decision::Approved);
        assert_eq!(d.decide(0.849), Decision::Declined);
        assert!((0..=100).all(|i| d.decide(i as f32 / 100.0) != Decision::OperatorRequired));
    }

    #[test]
    fn wire_score_rounds_and_clamps() {
        assert_eq!(wire_score(0.123_456_78), 0.123_457);
        assert_eq!(wire_score(1.5), 1.0);
    }
}
