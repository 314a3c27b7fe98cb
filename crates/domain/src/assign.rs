//! Which media an analysis takes (spec §7.4) and how BIOMETRY turns pair scores into a verdict.
//!
//! - QUALITY: videos and shot sets tagged with a `video_selfie*` tag, and images not tagged
//!   `photo_id*`; result images (best shots) are not inputs unless named in `source_media`.
//! - BIOMETRY: every original media (and any result image named in `source_media`); all pairs are
//!   compared and the least similar pair decides.
//! - An explicit `source_media` list is taken as given (the ids must belong to the folder).
//! - Either way an analysis takes at most [`caps::MAX_SOURCE_MEDIA`] media. Past it the request is
//!   refused ([`AssignError::TooManyMedia`], Oz error 4) before anything is queued, never cut
//!   silently: the client names the media it wants in `source_media`. So one BIOMETRY compares at
//!   most 50 x 49 / 2 = 1225 pairs, folded as they come ([`PairScores`], memory linear in the media).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::AnalysisKind;
use crate::caps;
use crate::decision::{Decision, DecisionThresholds};
use crate::status::ResolutionStatus;

/// Kind of a stored media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaClass {
    Image,
    Video,
    ShotSet,
    /// An analysis output (best shot): `IMAGE_RESULT_ANALYSIS_SINGLE`.
    ResultImage,
}

impl MediaClass {
    /// Oz `media_type`.
    #[must_use]
    pub fn media_type(self) -> &'static str {
        match self {
            MediaClass::Image => "IMAGE_FOLDER",
            MediaClass::Video => "VIDEO_FOLDER",
            MediaClass::ShotSet => "SHOTS_SET_FOLDER",
            MediaClass::ResultImage => "IMAGE_RESULT_ANALYSIS_SINGLE",
        }
    }

    #[must_use]
    pub fn from_media_type(s: &str) -> Option<Self> {
        match s {
            "IMAGE_FOLDER" => Some(MediaClass::Image),
            "VIDEO_FOLDER" => Some(MediaClass::Video),
            "SHOTS_SET_FOLDER" => Some(MediaClass::ShotSet),
            "IMAGE_RESULT_ANALYSIS_SINGLE" => Some(MediaClass::ResultImage),
            _ => None,
        }
    }
}

/// What the rules need to know of a media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFacts {
    pub id: Uuid,
    pub class: MediaClass,
    pub tags: Vec<String>,
}

/// Why an analysis cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignError {
    #[error("source media {0} is not in this folder")]
    UnknownMedia(Uuid),
    #[error("no media in the folder suits a {0} analysis")]
    NoSuitableMedia(&'static str),
    #[error("BIOMETRY needs at least two media, the folder has {0}")]
    TooFewForBiometry(usize),
    /// More media than one analysis may take ([`caps::MAX_SOURCE_MEDIA`]).
    #[error(
        "a {kind} analysis would take {count} media of this folder, the limit is {limit}: \
         name at most {limit} media in source_media"
    )]
    TooManyMedia { kind: &'static str, count: usize, limit: usize },
}

fn suits_quality(m: &MediaFacts) -> bool {
    let has = |p: &str| m.tags.iter().any(|t| t.starts_with(p));
    match m.class {
        MediaClass::Video | MediaClass::ShotSet => has("video_selfie"),
        MediaClass::Image => !has("photo_id"),
        MediaClass::ResultImage => false,
    }
}

/// The media an analysis of `kind` takes from the folder's `media`: `explicit` (de-duplicated by
/// the caller, see [`caps::source_media`]) or, without it, the folder's media that suit `kind`.
/// Either way at most [`caps::MAX_SOURCE_MEDIA`]; more is [`AssignError::TooManyMedia`].
pub fn inputs(kind: AnalysisKind, media: &[MediaFacts], explicit: Option<&[Uuid]>) -> Result<Vec<Uuid>, AssignError> {
    let chosen: Vec<Uuid> = match explicit {
        Some(ids) if !ids.is_empty() => {
            for id in ids {
                if !media.iter().any(|m| m.id == *id) {
                    return Err(AssignError::UnknownMedia(*id));
                }
            }
            let mut v = ids.to_vec();
            v.dedup();
            v
        }
        _ => match kind {
            AnalysisKind::Quality => media.iter().filter(|m| suits_quality(m)).map(|m| m.id).collect(),
            AnalysisKind::Biometry | AnalysisKind::Collection => {
                media.iter().filter(|m| m.class != MediaClass::ResultImage).map(|m| m.id).collect()
            }
            AnalysisKind::Documents => media
                .iter()
                .filter(|m| m.class == MediaClass::Image && m.tags.iter().any(|t| t.starts_with("photo_id")))
                .map(|m| m.id)
                .collect(),
        },
    };
    if chosen.len() > caps::MAX_SOURCE_MEDIA {
        return Err(AssignError::TooManyMedia {
            kind: kind.as_str(),
            count: chosen.len(),
            limit: caps::MAX_SOURCE_MEDIA,
        });
    }
    if kind == AnalysisKind::Biometry && chosen.len() < 2 {
        return Err(AssignError::TooFewForBiometry(chosen.len()));
    }
    if chosen.is_empty() {
        return Err(AssignError::NoSuitableMedia(kind.as_str()));
    }
    Ok(chosen)
}

/// BIOMETRY result over all pairs: `(min_confidence, max_confidence, verdict)`. The least similar
/// pair decides: approved → SUCCESS, operator_required → OPERATOR_REQUIRED, declined → DECLINED.
#[must_use]
pub fn biometry_verdict(pair_scores: &[f32], thresholds: &DecisionThresholds) -> Option<(f32, f32, ResolutionStatus)> {
    let min = pair_scores.iter().copied().reduce(f32::min)?;
    let max = pair_scores.iter().copied().reduce(f32::max)?;
    Some((min, max, pair_verdict(min, thresholds)))
}

fn pair_verdict(min: f32, thresholds: &DecisionThresholds) -> ResolutionStatus {
    match thresholds.decide(min) {
        Decision::Approved => ResolutionStatus::Success,
        Decision::OperatorRequired => ResolutionStatus::OperatorRequired,
        Decision::Declined => ResolutionStatus::Declined,
    }
}

/// BIOMETRY's pair scores folded as they are computed: the lowest and highest score over all
/// pairs and, for each media, over the pairs it is in. Memory grows with the media, not with the
/// pairs (no `n x n` matrix), and the verdict is [`biometry_verdict`]'s over the same scores.
#[derive(Debug, Clone, PartialEq)]
pub struct PairScores {
    pairs: usize,
    min: f32,
    max: f32,
    /// `(min, max)` of each media's pairs.
    per_media: Vec<(f32, f32)>,
}

impl PairScores {
    /// No pair yet, for `n` media.
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self {
            pairs: 0,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            per_media: vec![(f32::INFINITY, f32::NEG_INFINITY); n],
        }
    }

    /// Records the score of the pair of media `i` and `j` (indices below `n`; others are ignored).
    pub fn add(&mut self, i: usize, j: usize, score: f32) {
        if i >= self.per_media.len() || j >= self.per_media.len() {
            return;
        }
        self.pairs += 1;
        self.min = self.min.min(score);
        self.max = self.max.max(score);
        for k in [i, j] {
            let (lo, hi) = &mut self.per_media[k];
            *lo = lo.min(score);
            *hi = hi.max(score);
        }
    }

    /// Pairs recorded.
    #[must_use]
    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// `(min, max)` over the pairs of media `i`; `None` when it is in none.
    #[must_use]
    pub fn of_media(&self, i: usize) -> Option<(f32, f32)> {
        self.per_media.get(i).copied().filter(|(lo, _)| lo.is_finite())
    }

    /// `(min_confidence, max_confidence, verdict)` over every pair, as [`biometry_verdict`];
    /// `None` without pairs.
    #[must_use]
    pub fn verdict(&self, thresholds: &DecisionThresholds) -> Option<(f32, f32, ResolutionStatus)> {
        (self.pairs > 0).then(|| (self.min, self.max, pair_verdict(self.min, thresholds)))
    }
}

/// Persons a COLLECTION analysis reports by default (`decision_count`) and at most.
pub const COLLECTION_DEFAULT_COUNT: usize = 10;
pub const COLLECTION_MAX_COUNT: usize = 100;

/// COLLECTION (blacklist, 1:N) verdict over the best score of each searched media (None: the
/// search found nobody): a score at or above `threshold` is a hit (spec §7.2: "score >= threshold
/// means the face is in the list"), and a hit DECLINES the analysis; no hit is SUCCESS.
#[must_use]
pub fn collection_verdict(best_scores: &[Option<f32>], threshold: f32) -> ResolutionStatus {
    if best_scores.iter().flatten().any(|s| *s >= threshold) {
        ResolutionStatus::Declined
    } else {
        ResolutionStatus::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blacklist_hit_declines() {
        assert_eq!(collection_verdict(&[None, None], 0.85), ResolutionStatus::Success);
        assert_eq!(collection_verdict(&[], 0.85), ResolutionStatus::Success);
        assert_eq!(collection_verdict(&[Some(0.84), None], 0.85), ResolutionStatus::Success);
        assert_eq!(collection_verdict(&[Some(0.2), Some(0.85)], 0.85), ResolutionStatus::Declined);
        assert_eq!(collection_verdict(&[Some(0.99)], 0.85), ResolutionStatus::Declined);
    }

    fn m(n: u128, class: MediaClass, tags: &[&str]) -> MediaFacts {
        MediaFacts { id: Uuid::from_u128(n), class, tags: tags.iter().map(|s| (*s).to_string()).collect() }
    }

    #[test]
    fn quality_takes_selfie_videos_and_non_id_images() {
        let media = vec![
            m(1, MediaClass::Video, &["video_selfie", "video_selfie_blank"]),
            m(2, MediaClass::Image, &["photo_id", "photo_id_front"]),
            m(3, MediaClass::Image, &["photo_selfie"]),
            m(4, MediaClass::Video, &[]),
            m(5, MediaClass::ResultImage, &[]),
            m(6, MediaClass::ShotSet, &["video_selfie_eyes"]),
        ];
        let ids = inputs(AnalysisKind::Quality, &media, None).expect("some");
        assert_eq!(ids, vec![Uuid::from_u128(1), Uuid::from_u128(3), Uuid::from_u128(6)]);
        let only_id = vec![m(2, MediaClass::Image, &["photo_id_front"])];
        assert_eq!(inputs(AnalysisKind::Quality, &only_id, None), Err(AssignError::NoSuitableMedia("QUALITY")));
    }

    #[test]
    fn biometry_takes_all_originals_and_needs_two() {
        let media = vec![
            m(1, MediaClass::Video, &["video_selfie"]),
            m(2, MediaClass::Image, &["photo_id_front"]),
            m(5, MediaClass::ResultImage, &[]),
        ];
        assert_eq!(inputs(AnalysisKind::Biometry, &media, None).expect("two").len(), 2);
        assert_eq!(inputs(AnalysisKind::Biometry, &media[..1], None), Err(AssignError::TooFewForBiometry(1)));
        // An explicit list may name the best shot.
        let ids = [Uuid::from_u128(5), Uuid::from_u128(2)];
        assert_eq!(inputs(AnalysisKind::Biometry, &media, Some(&ids)).expect("explicit"), ids.to_vec());
        assert_eq!(
            inputs(AnalysisKind::Biometry, &media, Some(&[Uuid::from_u128(77)])),
            Err(AssignError::UnknownMedia(Uuid::from_u128(77)))
        );
    }

    #[test]
    fn implicit_media_obey_the_source_media_cap() {
        let photos = |n: usize| -> Vec<MediaFacts> {
            (0..n).map(|i| m(i as u128 + 1, MediaClass::Image, &["photo_selfie"])).collect()
        };
        let at_cap = photos(caps::MAX_SOURCE_MEDIA);
        for kind in [AnalysisKind::Quality, AnalysisKind::Biometry, AnalysisKind::Collection] {
            assert_eq!(inputs(kind, &at_cap, None).expect("at the cap").len(), caps::MAX_SOURCE_MEDIA);
        }
        // One more media than the cap: refused, never cut to a subset the client did not choose.
        let over = photos(caps::MAX_SOURCE_MEDIA + 14);
        for kind in [AnalysisKind::Quality, AnalysisKind::Biometry, AnalysisKind::Collection] {
            let e = inputs(kind, &over, None).expect_err("over the cap");
            assert_eq!(
                e,
                AssignError::TooManyMedia {
                    kind: kind.as_str(),
                    count: caps::MAX_SOURCE_MEDIA + 14,
                    limit: caps::MAX_SOURCE_MEDIA
                }
            );
            let text = e.to_string();
            assert!(text.contains("the limit is 50") && text.contains("source_media"), "{text}");
        }
        // Media that the kind would not take do not count: 60 ID photos and one selfie for QUALITY.
        let mut mixed: Vec<MediaFacts> =
            (0..60).map(|i| m(i + 100, MediaClass::Image, &["photo_id", "photo_id_front"])).collect();
        mixed.push(m(7, MediaClass::Image, &["photo_selfie"]));
        assert_eq!(inputs(AnalysisKind::Quality, &mixed, None).expect("one selfie"), vec![Uuid::from_u128(7)]);
        assert!(matches!(
            inputs(AnalysisKind::Biometry, &mixed, None),
            Err(AssignError::TooManyMedia { count: 61, .. })
        ));
        // source_media picks the media of a big folder.
        let pick: Vec<Uuid> = over.iter().take(3).map(|f| f.id).collect();
        assert_eq!(inputs(AnalysisKind::Biometry, &over, Some(&pick)).expect("picked"), pick);
    }

    #[test]
    fn streamed_pair_scores_match_the_full_list() {
        let t = DecisionThresholds::new(0.8, 0.5).expect("valid");
        let n = 5;
        let score = |i: usize, j: usize| 0.3 + ((i * 7 + j * 3) % 10) as f32 / 15.0;
        let mut acc = PairScores::new(n);
        let mut all = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                acc.add(i, j, score(i, j));
                all.push(score(i, j));
            }
        }
        assert_eq!(acc.pairs(), n * (n - 1) / 2);
        assert_eq!(acc.verdict(&t), biometry_verdict(&all, &t));
        for k in 0..n {
            let mine: Vec<f32> = (0..n).filter(|&o| o != k).map(|o| score(k.min(o), k.max(o))).collect();
            let lo = mine.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = mine.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(acc.of_media(k), Some((lo, hi)));
        }
        assert_eq!(acc.of_media(n), None);
        assert_eq!(PairScores::new(1).verdict(&t), None, "no pair, no verdict");
        assert_eq!(PairScores::new(2).of_media(0), None);
    }

    #[test]
    fn least_similar_pair_decides() {
        let t = DecisionThresholds::new(0.8, 0.5).expect("valid");
        assert_eq!(biometry_verdict(&[0.9, 0.95], &t), Some((0.9, 0.95, ResolutionStatus::Success)));
        assert_eq!(biometry_verdict(&[0.9, 0.6], &t).map(|v| v.2), Some(ResolutionStatus::OperatorRequired));
        assert_eq!(biometry_verdict(&[0.9, 0.2], &t).map(|v| v.2), Some(ResolutionStatus::Declined));
        assert_eq!(biometry_verdict(&[], &t), None);
        assert_eq!(MediaClass::from_media_type("VIDEO_FOLDER"), Some(MediaClass::Video));
    }
}
