//! Challenge verification (issue 20): does a clip show exactly the sequence of actions the server
//! issued ([`Action`], drawn in `oz_domain::challenge`), by one person, in one take, with a head
//! that is not flat?
//!
//! From the dense per-frame measures of [`crate::gesture`] (every frame of a clip, up to
//! `challenge_frames` spread over it):
//! - **Episodes** ([`episodes`]): each stretch of frames where one action shows, judged against the
//!   clip's start (the person faces the camera before the first prompt): a head turn or tilt of
//!   [`TURN_DEG`] / [`TILT_DEG`] in at least [`MIN_GESTURE_FRAMES`] frames, a smile rise of
//!   [`SMILE_RISE`] while facing the camera, a blink (the eyes' dark band at
//!   [`BLINK_CLOSED_RATIO`] of the clip's median with open eyes before and after) while facing
//!   the camera.
//! - **Order** ([`match_sequence`]): each issued action is the first episode of its kind after the
//!   previous action's episode ended. A head movement that was not asked for (an episode of a
//!   turn or tilt matched to no action and overlapping none that was) fails the order: a recording
//!   of another session shows other head movements. Blinks and smiles that were not asked for are
//!   tolerated (people blink and smile without being asked).
//! - **Continuity** ([`continuity`]): between consecutive analysed frames the face may not jump by
//!   more than [`MAX_SHIFT`] face widths or change size by more than [`MAX_SCALE`] (a cut between
//!   two takes), nor be missing for more than [`MAX_GAP_S`].
//! - **Identity**: embeddings of frames facing the camera along the clip, each compared with the
//!   first: the least similar pair must reach the biometry threshold given by the caller.
//! - **Depth**: over each head movement that was asked for (a neutral frame before it, then its
//!   frames), the planarity check ([`crate::planarity`]) must not call the face flat.
//!
//! The passive liveness model still runs on the clip (the caller's QUALITY); a failed challenge
//! declines the media whatever that score is.

use oz_domain::challenge::Action;
use serde::Serialize;

use crate::detect::Face;
use crate::gesture::{
    self, BLINK_CLOSED_RATIO, BLINK_OPEN_RATIO, FrameMeasures, GestureFrame, MIN_FACE_FRAMES, MIN_GESTURE_FRAMES,
    SMILE_MAX_TURN_DEG, SMILE_RISE, TILT_DEG, TURN_DEG,
};
use crate::planarity::{self, Planarity};

/// A blink counts only while the head faces the camera as at the start (within this many
/// degrees): looking down lowers the eyelids and would read as closed eyes.
pub const BLINK_MAX_TURN_DEG: f32 = 8.0;
/// Largest move of the face's centre between two consecutive analysed frames, in face widths.
/// Measured on the synthetic challenge clips (15 fps): at most 0.07 through turns and tilts, 0.44
/// at the cut of `challenge_cut.mp4` (the picture shifted by 80 px, the face 150 px wide).
pub const MAX_SHIFT: f32 = 0.3;
/// Largest change of the face's width between two consecutive analysed frames (ratio >= 1).
/// Measured: at most 1.06 through turns and tilts, 1.23 at the cut (the picture scaled by 1.2).
pub const MAX_SCALE: f32 = 1.15;
/// Longest stretch without a face, seconds.
pub const MAX_GAP_S: f64 = 1.0;
/// Frames compared for identity: this many, spread over the frames facing the camera.
pub const IDENTITY_SAMPLES: usize = 6;
/// Identity frames face the camera within this many degrees of the clip's start (not in the
/// middle of a turn or tilt, where the embedder is weaker; wide enough to take a second person
/// spliced in who does not sit exactly as the first).
pub const IDENTITY_MAX_TURN_DEG: f32 = 12.0;
/// A head movement whose planarity spoof score is at or above this is called flat.
pub const FLAT_SCORE: f32 = 0.5;
/// The planarity reference of a head movement faces the camera within this many degrees of the
/// clip's start (a frame already half-turned leaves too little motion to measure).
pub const DEPTH_REFERENCE_MAX_DEG: f32 = 6.0;

/// One stretch of frames where one action shows. Positions are indices into the series given to
/// [`episodes`]; `frames` are the source frame indices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    pub action: Action,
    #[serde(skip)]
    pub first: usize,
    #[serde(skip)]
    pub last: usize,
    pub frames: Vec<u64>,
    /// 0..1: 0.5 at the threshold, 1.0 at twice its change.
    pub confidence: f32,
}

/// The result for one issued action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionCheck {
    pub action: Action,
    /// Shown in the clip at all (in order or not).
    pub detected: bool,
    /// Shown after the previous action.
    pub in_order: bool,
    /// Source frame indices where it shows (the matched episode, else the first one found).
    pub frames: Vec<u64>,
    pub confidence: f32,
}

/// Face-track continuity over the analysed frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Continuity {
    pub ok: bool,
    /// Largest move of the face's centre between consecutive frames, face widths.
    pub largest_shift: f32,
    /// Largest change of face width between consecutive frames (>= 1).
    pub largest_scale: f32,
    /// Longest stretch without a face, seconds.
    pub longest_gap_s: f64,
    /// The source frame where the largest break is, when `ok` is false.
    pub break_at: Option<u64>,
}

/// Identity along the clip.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Identity {
    pub ok: bool,
    /// Frames compared.
    pub samples: usize,
    /// Lowest similarity score (0..1, as BIOMETRY) between the first sample and any other.
    pub min_similarity: Option<f32>,
    pub threshold: f32,
}

/// 3D motion during the head movements that were asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Depth {
    /// `None` when no head movement was asked for or none could be measured.
    pub ok: Option<bool>,
    /// Per head movement asked for (in order): its planarity, `None` when inconclusive.
    pub movements: Vec<Option<Planarity>>,
}

/// The verdict on one clip for one challenge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChallengeCheck {
    pub actions: Vec<ActionCheck>,
    /// Every action in the issued order, and no head movement that was not asked for.
    pub order_ok: bool,
    /// Head movements shown that were not asked for.
    pub unexpected: Vec<Episode>,
    pub identity_ok: bool,
    pub identity: Identity,
    pub continuity_ok: bool,
    pub continuity: Continuity,
    pub depth_ok: bool,
    pub depth: Depth,
    pub passed: bool,
    /// Why it failed, in plain words; `None` when it passed.
    pub reason: Option<String>,
    pub frames_analysed: usize,
    pub frames_with_face: usize,
}

fn is_head(action: Action) -> bool {
    action.is_head_movement()
}

/// The start level of `f` over the face frames, as the single-gesture check takes it
/// ([`gesture::start_level`]).
fn start_level(faces: &[(usize, FrameMeasures)], f: impl Fn(&FrameMeasures) -> f32) -> Option<f32> {
    let values: Vec<(u64, f32)> = faces.iter().map(|(p, m)| (*p as u64, f(m))).collect();
    gesture::start_level(&values)
}

/// 0.5 at the threshold, 1.0 at twice its change ([`gesture::confidence`]).
fn confidence(change: f32, threshold: f32) -> f32 {
    gesture::confidence(change, threshold, 2.0 * threshold)
}

/// Runs of consecutive face frames (positions in the series) where `hit` holds; frames with no
/// face or where `eligible` fails end a run.
fn runs(
    faces: &[(usize, FrameMeasures)],
    eligible: impl Fn(&FrameMeasures) -> bool,
    strength: impl Fn(usize, &FrameMeasures) -> f32,
    threshold: f32,
) -> Vec<(Vec<usize>, f32)> {
    let mut out: Vec<(Vec<usize>, f32)> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut strongest: Vec<f32> = Vec::new();
    let mut prev: Option<usize> = None;
    let mut flush = |cur: &mut Vec<usize>, strongest: &mut Vec<f32>| {
        if !cur.is_empty() {
            strongest.sort_by(|a, b| b.total_cmp(a));
            out.push((std::mem::take(cur), strongest.get(MIN_GESTURE_FRAMES - 1).copied().unwrap_or(0.0)));
            strongest.clear();
        }
    };
    for (pos, m) in faces {
        // A frame without a face between two with one ends the run.
        if prev.is_some_and(|p| *pos != p + 1) {
            flush(&mut cur, &mut strongest);
        }
        prev = Some(*pos);
        let s = strength(*pos, m);
        if eligible(m) && s >= threshold {
            cur.push(*pos);
            strongest.push(s);
        } else {
            flush(&mut cur, &mut strongest);
        }
    }
    flush(&mut cur, &mut strongest);
    out
}

/// Every episode of every action in the series (source frame index, measures), in order of
/// their first frame.
#[must_use]
pub fn episodes(series: &[(u64, Option<FrameMeasures>)]) -> Vec<Episode> {
    let faces: Vec<(usize, FrameMeasures)> =
        series.iter().enumerate().filter_map(|(pos, (_, m))| m.map(|m| (pos, m))).collect();
    if faces.len() < MIN_FACE_FRAMES {
        return Vec::new();
    }
    let (Some(y0), Some(p0)) = (start_level(&faces, |m| m.yaw_deg), start_level(&faces, |m| m.pitch_deg)) else {
        return Vec::new();
    };
    let facing = |max: f32| move |m: &FrameMeasures| (m.yaw_deg - y0).abs() <= max && (m.pitch_deg - p0).abs() <= max;
    let mut out: Vec<Episode> = Vec::new();
    let mut push = |action: Action, found: Vec<(Vec<usize>, f32)>, threshold: f32, min_frames: usize| {
        for (positions, held) in found {
            if positions.len() < min_frames {
                continue;
            }
            let (Some(&first), Some(&last)) = (positions.first(), positions.last()) else { continue };
            out.push(Episode {
                action,
                first,
                last,
                frames: positions.iter().map(|&p| series[p].0).collect(),
                confidence: confidence(held, threshold),
            });
        }
    };
    let any = |_: &FrameMeasures| true;
    push(Action::TurnLeft, runs(&faces, any, |_, m| m.yaw_deg - y0, TURN_DEG), TURN_DEG, MIN_GESTURE_FRAMES);
    push(Action::TurnRight, runs(&faces, any, |_, m| y0 - m.yaw_deg, TURN_DEG), TURN_DEG, MIN_GESTURE_FRAMES);
    push(Action::LookUp, runs(&faces, any, |_, m| m.pitch_deg - p0, TILT_DEG), TILT_DEG, MIN_GESTURE_FRAMES);
    push(Action::LookDown, runs(&faces, any, |_, m| p0 - m.pitch_deg, TILT_DEG), TILT_DEG, MIN_GESTURE_FRAMES);
    let facing_smile: Vec<(usize, FrameMeasures)> =
        faces.iter().copied().filter(|(_, m)| facing(SMILE_MAX_TURN_DEG)(m)).collect();
    if let Some(s0) = start_level(&facing_smile, FrameMeasures::smile) {
        let found = runs(&faces, facing(SMILE_MAX_TURN_DEG), |_, m| m.smile() - s0, SMILE_RISE);
        push(Action::Smile, found, SMILE_RISE, MIN_GESTURE_FRAMES);
    }
    // Blinks: closed-eye runs while facing the camera, with open eyes before and after
    // (openness relative to the clip: `gesture::eye_openness`).
    let indexed: Vec<(u64, FrameMeasures)> = faces.iter().map(|(p, m)| (*p as u64, *m)).collect();
    let openness: std::collections::HashMap<usize, f32> =
        gesture::eye_openness(&indexed).into_iter().map(|(p, o)| (p as usize, o)).collect();
    if !openness.is_empty() {
        let fall = 1.0 - BLINK_CLOSED_RATIO;
        let closed = |pos: usize| 1.0 - openness.get(&pos).copied().unwrap_or(1.0);
        let found = runs(&faces, facing(BLINK_MAX_TURN_DEG), |pos, _| closed(pos), fall);
        let is_open = |pos: usize| openness.get(&pos).is_some_and(|o| *o >= BLINK_OPEN_RATIO);
        // A blink may be one closed frame; its confidence is its deepest fall.
        let framed: Vec<(Vec<usize>, f32)> = found
            .into_iter()
            .filter(|(ps, _)| {
                let (Some(&a), Some(&b)) = (ps.first(), ps.last()) else { return false };
                (0..a).any(is_open) && (b + 1..series.len()).any(is_open)
            })
            .map(|(ps, _)| {
                let deepest = ps.iter().map(|&p| closed(p)).fold(0.0f32, f32::max);
                (ps, deepest)
            })
            .collect();
        push(Action::Blink, framed, fall, 1);
    }
    out.sort_by_key(|e| (e.first, e.last));
    out
}

/// Matches the issued `actions` to `episodes` in order: for each action, the first episode of its
/// kind that starts after the previous matched episode ended. Returns the matched episode of
/// each action (index into `episodes`) and the unmatched head movements that overlap no matched
/// episode.
#[must_use]
pub fn match_sequence(episodes: &[Episode], actions: &[Action]) -> (Vec<Option<usize>>, Vec<usize>) {
    let mut matched: Vec<Option<usize>> = Vec::with_capacity(actions.len());
    let mut after: Option<usize> = None;
    for &a in actions {
        let found = episodes.iter().position(|e| e.action == a && after.is_none_or(|end| e.first > end));
        if let Some(i) = found {
            after = Some(episodes[i].last);
        }
        matched.push(found);
    }
    let used: Vec<usize> = matched.iter().flatten().copied().collect();
    let unexpected = episodes
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            is_head(e.action)
                && !used.contains(i)
                && !used.iter().any(|&u| episodes[u].first <= e.last && e.first <= episodes[u].last)
        })
        .map(|(i, _)| i)
        .collect();
    (matched, unexpected)
}

/// One analysed frame for [`continuity`]: its source index, time in seconds and main face.
#[derive(Debug, Clone, Copy)]
pub struct TrackPoint {
    pub index: u64,
    pub time_s: f64,
    pub face: Option<Face>,
}

/// Whether the main face moves continuously from frame to frame (see the module doc).
#[must_use]
pub fn continuity(points: &[TrackPoint]) -> Continuity {
    let mut c = Continuity { ok: true, largest_shift: 0.0, largest_scale: 1.0, longest_gap_s: 0.0, break_at: None };
    let mut last: Option<(f64, Face)> = None;
    let start = points.first().map_or(0.0, |p| p.time_s);
    for p in points {
        let Some(face) = p.face else { continue };
        let since = last.map_or(start, |(t, _)| t);
        let gap = (p.time_s - since).max(0.0);
        if gap > c.longest_gap_s {
            c.longest_gap_s = gap;
            if gap > MAX_GAP_S {
                c.break_at = Some(p.index);
            }
        }
        if let Some((_, prev)) = last {
            let width = prev.w.max(face.w).max(1.0);
            let (cx0, cy0) = (prev.x + prev.w / 2.0, prev.y + prev.h / 2.0);
            let (cx1, cy1) = (face.x + face.w / 2.0, face.y + face.h / 2.0);
            let shift = ((cx1 - cx0).powi(2) + (cy1 - cy0).powi(2)).sqrt() / width;
            let scale = prev.w.max(face.w) / prev.w.min(face.w).max(1.0);
            if shift > c.largest_shift {
                c.largest_shift = shift;
                if shift > MAX_SHIFT {
                    c.break_at = Some(p.index);
                }
            }
            if scale > c.largest_scale {
                c.largest_scale = scale;
                if scale > MAX_SCALE {
                    c.break_at = Some(p.index);
                }
            }
        }
        last = Some((p.time_s, face));
    }
    // Time to the end without a face counts too.
    if let (Some((t, _)), Some(end)) = (last, points.last()) {
        let gap = (end.time_s - t).max(0.0);
        c.longest_gap_s = c.longest_gap_s.max(gap);
    } else if last.is_none() {
        c.longest_gap_s = points.last().map_or(0.0, |p| p.time_s - start);
    }
    c.ok =
        last.is_some() && c.largest_shift <= MAX_SHIFT && c.largest_scale <= MAX_SCALE && c.longest_gap_s <= MAX_GAP_S;
    c
}

/// Positions (into `frames`) of up to [`IDENTITY_SAMPLES`] frames facing the camera as at the
/// start (within [`IDENTITY_MAX_TURN_DEG`]), spread over the clip, the first and the last of them
/// included.
#[must_use]
pub fn identity_samples(frames: &[GestureFrame]) -> Vec<usize> {
    let faces: Vec<(usize, FrameMeasures)> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.interpolated)
        .filter_map(|(pos, f)| f.measures.map(|m| (pos, m)))
        .collect();
    let (Some(y0), Some(p0)) = (start_level(&faces, |m| m.yaw_deg), start_level(&faces, |m| m.pitch_deg)) else {
        return Vec::new();
    };
    let facing: Vec<usize> = faces
        .iter()
        .filter(|(_, m)| {
            (m.yaw_deg - y0).abs() <= IDENTITY_MAX_TURN_DEG && (m.pitch_deg - p0).abs() <= IDENTITY_MAX_TURN_DEG
        })
        .map(|(p, _)| *p)
        .collect();
    let n = facing.len();
    if n <= IDENTITY_SAMPLES {
        return facing;
    }
    let mut out: Vec<usize> = (0..IDENTITY_SAMPLES).map(|k| facing[k * (n - 1) / (IDENTITY_SAMPLES - 1)]).collect();
    out.dedup();
    out
}

/// The planarity of each head movement asked for: the last face frame before its episode facing
/// the camera as reference, then the episode's frames (`None` = inconclusive or not matched).
#[must_use]
pub fn movement_depth(frames: &[GestureFrame], episodes: &[Episode], matched: &[(Action, Option<usize>)]) -> Depth {
    let level = |f: fn(&FrameMeasures) -> f32| {
        let v: Vec<(u64, f32)> = frames.iter().filter_map(|g| g.measures.as_ref().map(|m| (g.index, f(m)))).collect();
        gesture::start_level(&v)
    };
    let (y0, p0) = (level(|m| m.yaw_deg), level(|m| m.pitch_deg));
    let facing = |m: &FrameMeasures| match (y0, p0) {
        (Some(y0), Some(p0)) => {
            (m.yaw_deg - y0).abs() <= DEPTH_REFERENCE_MAX_DEG && (m.pitch_deg - p0).abs() <= DEPTH_REFERENCE_MAX_DEG
        }
        _ => true,
    };
    let mut movements = Vec::new();
    for (action, m) in matched {
        if !is_head(*action) {
            continue;
        }
        let p = m.and_then(|i| {
            let e = &episodes[i];
            // The last frame before the movement that faces the camera; else the last with a face.
            let before = || frames[..e.first].iter().rev().filter(|f| f.mesh.is_some() && f.measures.is_some());
            let reference = before().find(|f| f.measures.as_ref().is_some_and(facing)).or_else(|| before().next())?;
            let mut meshes = vec![reference.mesh.as_ref()?];
            meshes.extend(frames[e.first..=e.last].iter().filter_map(|f| f.mesh.as_ref()));
            planarity::movement_planarity(&meshes).filter(|p| p.spoof_score.is_some())
        });
        movements.push(p);
    }
    let measured: Vec<f32> = movements.iter().flatten().filter_map(|p| p.spoof_score).collect();
    let ok = if measured.is_empty() { None } else { Some(measured.iter().all(|s| *s < FLAT_SCORE)) };
    Depth { ok, movements }
}

/// Puts the parts together (see the module doc). `similarities`: the similarity score of each
/// identity sample after the first with the first one, and `threshold` the score they must reach.
#[must_use]
pub fn verdict(
    frames: &[GestureFrame],
    points: &[TrackPoint],
    actions: &[Action],
    similarities: &[f32],
    samples: usize,
    threshold: f32,
) -> ChallengeCheck {
    let series: Vec<(u64, Option<FrameMeasures>)> = frames.iter().map(|f| (f.index, f.measures)).collect();
    let found = episodes(&series);
    let (matched, unexpected) = match_sequence(&found, actions);
    let checks: Vec<ActionCheck> = actions
        .iter()
        .zip(&matched)
        .map(|(&a, m)| {
            let e = m.map(|i| &found[i]).or_else(|| found.iter().find(|e| e.action == a));
            ActionCheck {
                action: a,
                detected: e.is_some(),
                in_order: m.is_some(),
                frames: e.map(|e| e.frames.clone()).unwrap_or_default(),
                confidence: e.map_or(0.0, |e| e.confidence),
            }
        })
        .collect();
    let order_ok = !actions.is_empty() && matched.iter().all(Option::is_some) && unexpected.is_empty();
    let min_similarity = similarities.iter().copied().reduce(f32::min);
    let identity_ok = samples >= 2 && min_similarity.is_some_and(|s| s >= threshold);
    let identity = Identity { ok: identity_ok, samples, min_similarity, threshold };
    let cont = continuity(points);
    let pairs: Vec<(Action, Option<usize>)> = actions.iter().copied().zip(matched.iter().copied()).collect();
    let depth = movement_depth(frames, &found, &pairs);
    // A head movement was matched but none could be measured: not proven 3D.
    let depth_ok = depth.ok.unwrap_or(!pairs.iter().any(|(a, m)| is_head(*a) && m.is_some()));
    let mut reasons: Vec<String> = Vec::new();
    if !order_ok {
        let missing: Vec<&str> = checks.iter().filter(|c| !c.detected).map(|c| c.action.as_str()).collect();
        let late: Vec<&str> = checks.iter().filter(|c| c.detected && !c.in_order).map(|c| c.action.as_str()).collect();
        if !missing.is_empty() {
            reasons.push(format!("not seen: {}", missing.join(", ")));
        }
        if !late.is_empty() {
            reasons.push(format!("out of order: {}", late.join(", ")));
        }
        if !unexpected.is_empty() {
            let names: Vec<&str> = unexpected.iter().map(|&i| found[i].action.as_str()).collect();
            reasons.push(format!("head movements not asked for: {}", names.join(", ")));
        }
    }
    if !identity_ok {
        reasons.push(if samples < 2 {
            "too few frames facing the camera to compare the face along the clip".to_string()
        } else {
            "the face changes along the clip (not the same person throughout)".to_string()
        });
    }
    if !cont.ok {
        reasons.push("the clip is not one continuous take (the face jumps or disappears)".to_string());
    }
    if !depth_ok {
        reasons.push("the face stays flat while the head turns (a photo or a screen)".to_string());
    }
    let passed = reasons.is_empty();
    ChallengeCheck {
        actions: checks,
        order_ok,
        unexpected: unexpected.iter().map(|&i| found[i].clone()).collect(),
        identity_ok,
        identity,
        continuity_ok: cont.ok,
        continuity: cont,
        depth_ok,
        depth,
        passed,
        reason: if passed { None } else { Some(reasons.join("; ")) },
        frames_analysed: frames.len(),
        frames_with_face: frames.iter().filter(|f| f.measures.is_some()).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neutral() -> FrameMeasures {
        FrameMeasures {
            ear_right: 0.3,
            ear_left: 0.3,
            eye_dark_right: 0.4,
            eye_dark_left: 0.4,
            eye_contrast_right: 0.8,
            eye_contrast_left: 0.8,
            mouth_width: 1.0,
            mouth_lift: 0.0,
            face_size: 150.0,
            inter_ocular: 60.0,
            yaw_deg: 0.0,
            pitch_deg: 0.0,
            mesh_yaw_deg: 0.0,
            mesh_pitch_deg: 0.0,
            presence: 1.0,
        }
    }

    /// Frames `a..b` of a clip changed by `f`.
    type Act = (u64, u64, fn(&mut FrameMeasures));

    /// A clip of `n` neutral frames with each act applied.
    fn clip(n: u64, acts: &[Act]) -> Vec<(u64, Option<FrameMeasures>)> {
        (0..n)
            .map(|i| {
                let mut m = neutral();
                for (a, b, f) in acts {
                    if (*a..*b).contains(&i) {
                        f(&mut m);
                    }
                }
                (i, Some(m))
            })
            .collect()
    }

    fn left(m: &mut FrameMeasures) {
        m.yaw_deg = 22.0;
    }
    fn right(m: &mut FrameMeasures) {
        m.yaw_deg = -22.0;
    }
    fn up(m: &mut FrameMeasures) {
        m.pitch_deg = 20.0;
    }
    fn smile(m: &mut FrameMeasures) {
        m.mouth_width = 1.2;
    }
    fn blink(m: &mut FrameMeasures) {
        m.eye_dark_right = 0.15;
        m.eye_dark_left = 0.15;
    }

    fn kinds(e: &[Episode]) -> Vec<Action> {
        e.iter().map(|e| e.action).collect()
    }

    #[test]
    fn episodes_are_found_in_time_order() {
        let s = clip(60, &[(10, 18, left), (25, 32, smile), (40, 41, blink), (48, 55, up)]);
        let e = episodes(&s);
        assert_eq!(kinds(&e), [Action::TurnLeft, Action::Smile, Action::Blink, Action::LookUp]);
        assert_eq!(e[0].frames, (10..18).collect::<Vec<u64>>());
        assert!(e.iter().all(|e| e.confidence >= 0.5), "{e:?}");
    }

    #[test]
    fn the_issued_order_and_nothing_else() {
        let s = clip(60, &[(10, 18, left), (25, 32, smile), (48, 55, up)]);
        let e = episodes(&s);
        let want = [Action::TurnLeft, Action::Smile, Action::LookUp];
        let (m, extra) = match_sequence(&e, &want);
        assert!(m.iter().all(Option::is_some) && extra.is_empty());
        // The same actions asked in another order: not all in order.
        let (m, _) = match_sequence(&e, &[Action::LookUp, Action::Smile, Action::TurnLeft]);
        assert_eq!(m.iter().filter(|x| x.is_some()).count(), 1);
        // A subset of what the clip shows: the head movement not asked for fails it.
        let (m, extra) = match_sequence(&e, &[Action::Smile, Action::LookUp]);
        assert!(m.iter().all(Option::is_some));
        assert_eq!(extra.len(), 1);
        assert_eq!(e[extra[0]].action, Action::TurnLeft);
        // A blink or smile not asked for is tolerated.
        let (m, extra) = match_sequence(&e, &[Action::TurnLeft, Action::LookUp]);
        assert!(m.iter().all(Option::is_some) && extra.is_empty());
        // An action asked twice needs two episodes.
        let (m, _) = match_sequence(&e, &[Action::TurnLeft, Action::Smile, Action::TurnLeft]);
        assert_eq!(m[2], None);
    }

    #[test]
    fn blinks_count_only_facing_the_camera_and_between_open_eyes() {
        // Eyes "closed" while looking down: not a blink.
        let down_closed: fn(&mut FrameMeasures) = |m| {
            m.pitch_deg = -20.0;
            m.eye_dark_right = 0.15;
            m.eye_dark_left = 0.15;
        };
        let e = episodes(&clip(40, &[(10, 18, down_closed)]));
        assert_eq!(kinds(&e), [Action::LookDown]);
        // Closed from the first frame: no open eyes before.
        let e = episodes(&clip(40, &[(0, 1, blink)]));
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn one_outlier_frame_is_not_a_head_movement() {
        let e = episodes(&clip(40, &[(20, 21, right)]));
        assert!(e.is_empty(), "{e:?}");
        let e = episodes(&clip(40, &[(20, 22, right)]));
        assert_eq!(kinds(&e), [Action::TurnRight]);
    }

    fn face(x: f32, w: f32) -> Option<Face> {
        Some(Face { x, y: 100.0, w, h: w * 1.2, score: 0.9, landmarks: [[0.0; 2]; 5] })
    }

    #[test]
    fn cuts_jumps_and_gaps_break_continuity() {
        let pts = |f: &dyn Fn(u64) -> Option<Face>| -> Vec<TrackPoint> {
            (0..50).map(|i| TrackPoint { index: i, time_s: i as f64 / 10.0, face: f(i) }).collect()
        };
        let smooth = continuity(&pts(&|i| face(100.0 + i as f32 * 2.0, 150.0)));
        assert!(smooth.ok, "{smooth:?}");
        let jump = continuity(&pts(&|i| face(if i < 25 { 100.0 } else { 180.0 }, 150.0)));
        assert!(!jump.ok && jump.break_at == Some(25), "{jump:?}");
        let zoom = continuity(&pts(&|i| face(100.0, if i < 25 { 150.0 } else { 195.0 })));
        assert!(!zoom.ok, "{zoom:?}");
        let gap = continuity(&pts(&|i| if (20..32).contains(&i) { None } else { face(100.0, 150.0) }));
        assert!(!gap.ok && gap.longest_gap_s > 1.0, "{gap:?}");
        let short_gap = continuity(&pts(&|i| if (20..25).contains(&i) { None } else { face(100.0, 150.0) }));
        assert!(short_gap.ok, "{short_gap:?}");
        let none = continuity(&pts(&|_| None));
        assert!(!none.ok);
    }
}
