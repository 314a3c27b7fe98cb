//! The gesture a selfie video was recorded for, read from its Oz media tags (spec §6).
//!
//! Oz SDKs tag each video with the action the user was asked to do: `video_selfie_left`,
//! `video_selfie_right`, `video_selfie_down`, `video_selfie_high`, `video_selfie_smile`,
//! `video_selfie_eyes`, `video_selfie_scan`, and the legacy `video_selfie_zoom_in` /
//! `video_selfie_zoom_out`. `video_selfie_blank` (passive liveness, also for videos made outside
//! the SDKs), `video_selfie_oneshot` (one-frame analysis) and a plain `video_selfie` ask for no
//! gesture. Left and right are the **user's** left and right (see `oz_vision::gesture` for how
//! that maps onto a camera image).

use serde::{Deserialize, Serialize};

use crate::status::ResolutionStatus;

/// An action the user was asked to perform in a selfie video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gesture {
    /// `video_selfie_left`: turn the head to the user's left.
    Left,
    /// `video_selfie_right`: turn the head to the user's right.
    Right,
    /// `video_selfie_down`: tilt the head down.
    Down,
    /// `video_selfie_high`: raise the head (chin up).
    Up,
    /// `video_selfie_smile`.
    Smile,
    /// `video_selfie_eyes`: blink.
    Blink,
    /// `video_selfie_scan`: look at the camera and hold still while the face is scanned.
    Scan,
    /// `video_selfie_zoom_in` (legacy): bring the phone closer, the face grows.
    ZoomIn,
    /// `video_selfie_zoom_out` (legacy): move the phone away, the face shrinks.
    ZoomOut,
}

impl Gesture {
    /// Every gesture, in tag order of the spec.
    pub const ALL: [Gesture; 9] = [
        Gesture::Left,
        Gesture::Right,
        Gesture::Down,
        Gesture::Up,
        Gesture::Smile,
        Gesture::Blink,
        Gesture::Scan,
        Gesture::ZoomIn,
        Gesture::ZoomOut,
    ];

    /// The Oz media tag that asks for this gesture.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            Gesture::Left => "video_selfie_left",
            Gesture::Right => "video_selfie_right",
            Gesture::Down => "video_selfie_down",
            Gesture::Up => "video_selfie_high",
            Gesture::Smile => "video_selfie_smile",
            Gesture::Blink => "video_selfie_eyes",
            Gesture::Scan => "video_selfie_scan",
            Gesture::ZoomIn => "video_selfie_zoom_in",
            Gesture::ZoomOut => "video_selfie_zoom_out",
        }
    }

    /// The gesture one tag asks for; `None` for every other tag, including the no-gesture tags
    /// `video_selfie`, `video_selfie_blank` and `video_selfie_oneshot`. Tags are matched exactly
    /// (Oz tags are lower case).
    #[must_use]
    pub fn from_tag(tag: &str) -> Option<Gesture> {
        Gesture::ALL.into_iter().find(|g| g.tag() == tag)
    }
}

/// The gestures a media's tags ask for, in tag order, without repeats. Usually zero or one.
#[must_use]
pub fn requested_gestures<S: AsRef<str>>(tags: &[S]) -> Vec<Gesture> {
    let mut out: Vec<Gesture> = Vec::new();
    for g in tags.iter().filter_map(|t| Gesture::from_tag(t.as_ref())) {
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// The gesture a media's tags ask for: the first gesture tag, or `None` when the tags ask for
/// none (`video_selfie`, `video_selfie_blank`, `video_selfie_oneshot`, photos).
#[must_use]
pub fn requested_gesture<S: AsRef<str>>(tags: &[S]) -> Option<Gesture> {
    tags.iter().find_map(|t| Gesture::from_tag(t.as_ref()))
}

/// What QUALITY does when a video's tags ask for a gesture (`OZ_GESTURE_CHECK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GesturePolicy {
    /// The gesture is checked; when it is absent, the media is DECLINED.
    Decline,
    /// Absent: OPERATOR_REQUIRED, for a person to look at.
    Operator,
    /// Checked and reported in `results_data`, never changes the verdict (the default: Oz
    /// publishes no server verdict for a missing tagged gesture, and the app chose the gesture,
    /// so a recording of an earlier session shows it anyway; server-issued challenges are the
    /// check a recording cannot pass, and they are always enforced).
    #[default]
    Report,
    /// Not checked (no extra decoding either).
    Off,
}

impl GesturePolicy {
    /// Parses the setting's value (`decline`, `operator`, `report`, `off`; case-insensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "decline" => Some(Self::Decline),
            "operator" | "operator_required" => Some(Self::Operator),
            "report" => Some(Self::Report),
            "off" => Some(Self::Off),
            _ => None,
        }
    }

    /// Whether the gesture is looked for at all.
    #[must_use]
    pub fn checks(self) -> bool {
        self != Self::Off
    }

    /// The media's verdict given the liveness verdict and whether the requested gesture was seen
    /// (`None` = nothing was requested, or not checked). A gesture never improves a verdict.
    #[must_use]
    pub fn verdict(self, liveness: ResolutionStatus, gesture_detected: Option<bool>) -> ResolutionStatus {
        let gesture = match (self, gesture_detected) {
            (Self::Decline, Some(false)) => ResolutionStatus::Declined,
            (Self::Operator, Some(false)) => ResolutionStatus::OperatorRequired,
            _ => ResolutionStatus::Success,
        };
        crate::status::worst([liveness, gesture])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gesture_tag_round_trips() {
        for g in Gesture::ALL {
            assert_eq!(Gesture::from_tag(g.tag()), Some(g), "{g:?}");
        }
        assert_eq!(Gesture::from_tag("video_selfie_high"), Some(Gesture::Up));
        assert_eq!(Gesture::from_tag("video_selfie_eyes"), Some(Gesture::Blink));
        assert_eq!(Gesture::from_tag("video_selfie_zoom_out"), Some(Gesture::ZoomOut));
    }

    #[test]
    fn passive_tags_ask_for_no_gesture() {
        for tags in [
            &["video_selfie"][..],
            &["video_selfie", "video_selfie_blank", "orientation_portrait"],
            &["video_selfie", "video_selfie_oneshot"],
            &["photo_selfie"],
            &["photo_id", "photo_id_front"],
            &[],
        ] {
            assert_eq!(requested_gesture(tags), None, "{tags:?}");
            assert!(requested_gestures(tags).is_empty(), "{tags:?}");
        }
    }

    #[test]
    fn gesture_tags_are_found_among_others() {
        let tags = ["video_selfie", "orientation_portrait", "video_selfie_left"];
        assert_eq!(requested_gesture(&tags), Some(Gesture::Left));
        let tags = vec!["video_selfie".to_string(), "video_selfie_smile".to_string()];
        assert_eq!(requested_gesture(&tags), Some(Gesture::Smile));
    }

    #[test]
    fn tags_match_exactly() {
        for t in ["VIDEO_SELFIE_LEFT", "video_selfie_left ", "video_selfie_up", "video_selfie_blink", "left"] {
            assert_eq!(Gesture::from_tag(t), None, "{t}");
        }
    }

    #[test]
    fn several_gesture_tags_keep_their_order_without_repeats() {
        let tags = ["video_selfie_right", "video_selfie", "video_selfie_eyes", "video_selfie_right"];
        assert_eq!(requested_gestures(&tags), vec![Gesture::Right, Gesture::Blink]);
        assert_eq!(requested_gesture(&tags), Some(Gesture::Right));
    }

    #[test]
    fn serialises_in_snake_case() {
        assert_eq!(serde_json::to_string(&Gesture::ZoomIn).expect("json"), "\"zoom_in\"");
        assert_eq!(serde_json::from_str::<Gesture>("\"blink\"").expect("json"), Gesture::Blink);
    }

    #[test]
    fn policy_parses_and_decides() {
        use ResolutionStatus::{Declined, OperatorRequired, Success};
        assert_eq!(GesturePolicy::parse("DECLINE"), Some(GesturePolicy::Decline));
        assert_eq!(GesturePolicy::parse(" operator "), Some(GesturePolicy::Operator));
        assert_eq!(GesturePolicy::parse("report"), Some(GesturePolicy::Report));
        assert_eq!(GesturePolicy::parse("off"), Some(GesturePolicy::Off));
        assert_eq!(GesturePolicy::parse("yes"), None);
        assert!(!GesturePolicy::Off.checks() && GesturePolicy::Report.checks());
        let d = GesturePolicy::Decline;
        assert_eq!(d.verdict(Success, Some(false)), Declined);
        assert_eq!(d.verdict(Success, Some(true)), Success);
        assert_eq!(d.verdict(Success, None), Success);
        assert_eq!(d.verdict(Declined, Some(true)), Declined, "a gesture never clears a spoof");
        assert_eq!(GesturePolicy::Operator.verdict(Success, Some(false)), OperatorRequired);
        assert_eq!(GesturePolicy::Operator.verdict(Declined, Some(false)), Declined);
        assert_eq!(GesturePolicy::Report.verdict(Success, Some(false)), Success);
        assert_eq!(GesturePolicy::Off.verdict(Success, Some(false)), Success);
    }
}
