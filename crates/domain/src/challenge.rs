//! Liveness challenges (our extension to the Oz API): the server draws a random sequence of
//! actions for one capture session, the person performs it on camera, and QUALITY verifies that
//! the clip shows exactly that sequence. A recording of an earlier session shows another sequence,
//! so it cannot pass; a still photo shows none.
//!
//! This module holds the rules without IO: which actions exist, how a sequence is drawn (the
//! caller brings the random source: a cryptographic one in the server), the policy's bounds, and
//! whether a stored challenge may be used by a caller now. Each rule has unit tests below.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::gesture::Gesture;

/// One action a challenge asks for. Left and right are the person's own (as for the Oz gesture
/// tags, see [`Gesture`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Blink,
    Smile,
    TurnLeft,
    TurnRight,
    LookUp,
    LookDown,
}

impl Action {
    /// Every action, in the order the API documents them.
    pub const ALL: [Action; 6] =
        [Action::Blink, Action::Smile, Action::TurnLeft, Action::TurnRight, Action::LookUp, Action::LookDown];

    /// The wire name (`blink`, `smile`, `turn_left`, `turn_right`, `look_up`, `look_down`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Blink => "blink",
            Action::Smile => "smile",
            Action::TurnLeft => "turn_left",
            Action::TurnRight => "turn_right",
            Action::LookUp => "look_up",
            Action::LookDown => "look_down",
        }
    }

    /// The action of a wire name (exact, lower case).
    #[must_use]
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// A turn or tilt of the head (not a blink or a smile).
    #[must_use]
    pub fn is_head_movement(self) -> bool {
        matches!(self, Action::TurnLeft | Action::TurnRight | Action::LookUp | Action::LookDown)
    }

    /// The gesture detector that finds this action in a clip.
    #[must_use]
    pub fn gesture(self) -> Gesture {
        match self {
            Action::Blink => Gesture::Blink,
            Action::Smile => Gesture::Smile,
            Action::TurnLeft => Gesture::Left,
            Action::TurnRight => Gesture::Right,
            Action::LookUp => Gesture::Up,
            Action::LookDown => Gesture::Down,
        }
    }
}

/// Most actions one challenge may ask for.
pub const MAX_ACTIONS: usize = 6;

/// How challenges are drawn and how long they live (`OZ_CHALLENGE_*` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengePolicy {
    min_actions: usize,
    max_actions: usize,
    allowed: Vec<Action>,
    ttl_s: u64,
}

/// A policy that cannot draw a valid challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a challenge needs 1 to {MAX_ACTIONS} actions, and the least at most the most (got {min} to {max})")]
    Counts { min: usize, max: usize },
    #[error("no allowed actions")]
    NoActions,
    #[error("challenges of more than one action need at least two allowed actions (no action twice in a row)")]
    OneActionOnly,
    #[error("unknown action {0:?} (blink, smile, turn_left, turn_right, look_up, look_down)")]
    UnknownAction(String),
    #[error("a challenge lives 10 to 3600 seconds (got {0})")]
    Ttl(u64),
}

impl Default for ChallengePolicy {
    /// 2 to 4 actions of all six, valid 120 s.
    fn default() -> Self {
        Self { min_actions: 2, max_actions: 4, allowed: Action::ALL.to_vec(), ttl_s: 120 }
    }
}

impl ChallengePolicy {
    /// A policy of `min..=max` actions drawn from `allowed` (repeats ignored), living `ttl_s`.
    pub fn new(min: usize, max: usize, allowed: &[Action], ttl_s: u64) -> Result<Self, PolicyError> {
        if min == 0 || min > max || max > MAX_ACTIONS {
            return Err(PolicyError::Counts { min, max });
        }
        let mut set: Vec<Action> = Vec::new();
        for a in allowed {
            if !set.contains(a) {
                set.push(*a);
            }
        }
        if set.is_empty() {
            return Err(PolicyError::NoActions);
        }
        if set.len() < 2 && max > 1 {
            return Err(PolicyError::OneActionOnly);
        }
        if !(10..=3600).contains(&ttl_s) {
            return Err(PolicyError::Ttl(ttl_s));
        }
        Ok(Self { min_actions: min, max_actions: max, allowed: set, ttl_s })
    }

    /// Parses a comma list of action names (`OZ_CHALLENGE_ACTIONS`).
    pub fn parse_actions(list: &str) -> Result<Vec<Action>, PolicyError> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Action::parse(&s.to_ascii_lowercase()).ok_or_else(|| PolicyError::UnknownAction(s.to_string())))
            .collect()
    }

    #[must_use]
    pub fn min_actions(&self) -> usize {
        self.min_actions
    }

    #[must_use]
    pub fn max_actions(&self) -> usize {
        self.max_actions
    }

    #[must_use]
    pub fn allowed(&self) -> &[Action] {
        &self.allowed
    }

    /// Seconds a challenge may be used after it was issued.
    #[must_use]
    pub fn ttl_s(&self) -> u64 {
        self.ttl_s
    }

    /// Draws a challenge: a count in `min..=max`, then each action from the allowed ones, never
    /// the one just drawn; when any head movement is allowed, draws again until the sequence has
    /// one (the 3D check needs a head movement; a blink and a smile alone could be shown by a
    /// mask). `pick(n)` must answer a uniformly random index below `n` (`n >= 1`); out-of-range
    /// answers are reduced modulo `n`.
    pub fn draw(&self, pick: &mut impl FnMut(usize) -> usize) -> Vec<Action> {
        let head_allowed = self.allowed.iter().any(|a| a.is_head_movement());
        let mut out: Vec<Action> = Vec::new();
        // With 4 head movements of 6 actions, a draw of 2 has none 1 time in 15: 64 tries fail
        // about never; a source that keeps failing gets the last draw.
        for _ in 0..64 {
            out = self.draw_once(pick);
            if !head_allowed || out.iter().any(|a| a.is_head_movement()) {
                break;
            }
        }
        out
    }

    fn draw_once(&self, pick: &mut impl FnMut(usize) -> usize) -> Vec<Action> {
        let span = self.max_actions - self.min_actions + 1;
        let count = self.min_actions + pick(span) % span;
        let mut out: Vec<Action> = Vec::with_capacity(count);
        for _ in 0..count {
            let choices: Vec<Action> = self.allowed.iter().copied().filter(|a| out.last() != Some(a)).collect();
            out.push(choices[pick(choices.len()) % choices.len()]);
        }
        out
    }
}

/// What a stored challenge says about itself, for [`check_use`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengeFacts {
    /// The company of the user who asked for it (`None`: a user of no company, an ADMIN).
    pub company_id: Option<Uuid>,
    /// Epoch seconds after which it may not be used.
    pub expires_at: f64,
    /// Set once an analysis took it.
    pub used: bool,
}

/// Why a challenge may not be used. Each answers 400 (Oz error 4) with its own message, except
/// [`Refusal::Unknown`] for another company's challenge: a caller learns nothing of other tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such challenge: ask for one with POST /api/liveness/challenges/")]
    Unknown,
    #[error("the challenge has expired: ask for a new one")]
    Expired,
    #[error("the challenge was already used by another analysis: ask for a new one")]
    Used,
}

/// Whether a caller of `company_id` may use a challenge now (epoch seconds). Another company's
/// challenge is unknown to the caller; a challenge of no company (an ADMIN's) only to callers of
/// no company.
pub fn check_use(facts: Option<&ChallengeFacts>, company_id: Option<Uuid>, now: f64) -> Result<(), Refusal> {
    let Some(f) = facts else {
        return Err(Refusal::Unknown);
    };
    if f.company_id != company_id {
        return Err(Refusal::Unknown);
    }
    if f.used {
        return Err(Refusal::Used);
    }
    if now >= f.expires_at {
        return Err(Refusal::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic "random" source: a linear congruential sequence.
    fn lcg(seed: u64) -> impl FnMut(usize) -> usize {
        let mut x = seed;
        move |n| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from((x >> 33) % n as u64).unwrap_or(0)
        }
    }

    #[test]
    fn names_round_trip_and_map_to_gestures() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).expect("json"), serde_json::json!(a.as_str()));
        }
        assert_eq!(Action::parse("TURN_LEFT"), None);
        assert_eq!(Action::TurnLeft.gesture(), Gesture::Left);
        assert_eq!(Action::LookUp.gesture(), Gesture::Up);
    }

    #[test]
    fn draws_respect_counts_allowed_actions_and_no_repeats() {
        let p = ChallengePolicy::default();
        let mut pick = lcg(7);
        let mut counts = [0usize; 7];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let c = p.draw(&mut pick);
            assert!((2..=4).contains(&c.len()), "{c:?}");
            counts[c.len()] += 1;
            assert!(c.windows(2).all(|w| w[0] != w[1]), "repeat in {c:?}");
            assert!(c.iter().any(|a| a.is_head_movement()), "no head movement in {c:?}");
            seen.extend(c);
        }
        assert_eq!(seen.len(), 6, "every action is drawn");
        assert!(counts[2] > 0 && counts[3] > 0 && counts[4] > 0, "{counts:?}");

        let two = ChallengePolicy::new(3, 3, &[Action::Blink, Action::Smile], 60).expect("policy");
        let c = two.draw(&mut pick);
        assert!(
            c == [Action::Blink, Action::Smile, Action::Blink] || c == [Action::Smile, Action::Blink, Action::Smile]
        );
        // An out-of-range source cannot index past the choices.
        let c = p.draw(&mut |_| usize::MAX);
        assert!(c.windows(2).all(|w| w[0] != w[1]) && (2..=4).contains(&c.len()));
    }

    #[test]
    fn policies_that_cannot_draw_are_refused() {
        assert_eq!(ChallengePolicy::new(0, 2, &Action::ALL, 60), Err(PolicyError::Counts { min: 0, max: 2 }));
        assert_eq!(ChallengePolicy::new(3, 2, &Action::ALL, 60), Err(PolicyError::Counts { min: 3, max: 2 }));
        assert_eq!(ChallengePolicy::new(1, 7, &Action::ALL, 60), Err(PolicyError::Counts { min: 1, max: 7 }));
        assert_eq!(ChallengePolicy::new(1, 2, &[], 60), Err(PolicyError::NoActions));
        assert_eq!(ChallengePolicy::new(1, 2, &[Action::Blink, Action::Blink], 60), Err(PolicyError::OneActionOnly));
        assert!(ChallengePolicy::new(1, 1, &[Action::Blink], 60).is_ok());
        assert_eq!(ChallengePolicy::new(1, 2, &Action::ALL, 5), Err(PolicyError::Ttl(5)));
        assert_eq!(
            ChallengePolicy::parse_actions("blink, Smile,turn_left"),
            Ok(vec![Action::Blink, Action::Smile, Action::TurnLeft])
        );
        assert_eq!(ChallengePolicy::parse_actions("blink,nod"), Err(PolicyError::UnknownAction("nod".into())));
    }

    #[test]
    fn use_is_checked_for_company_expiry_and_reuse() {
        let co = Some(Uuid::new_v4());
        let f = ChallengeFacts { company_id: co, expires_at: 100.0, used: false };
        assert_eq!(check_use(Some(&f), co, 99.0), Ok(()));
        assert_eq!(check_use(None, co, 99.0), Err(Refusal::Unknown));
        assert_eq!(check_use(Some(&f), Some(Uuid::new_v4()), 99.0), Err(Refusal::Unknown));
        assert_eq!(check_use(Some(&f), None, 99.0), Err(Refusal::Unknown));
        assert_eq!(check_use(Some(&f), co, 100.0), Err(Refusal::Expired));
        let used = ChallengeFacts { used: true, ..f.clone() };
        assert_eq!(check_use(Some(&used), co, 50.0), Err(Refusal::Used));
        let admin = ChallengeFacts { company_id: None, ..f };
        assert_eq!(check_use(Some(&admin), None, 50.0), Ok(()));
        assert_eq!(check_use(Some(&admin), co, 50.0), Err(Refusal::Unknown));
    }
}
