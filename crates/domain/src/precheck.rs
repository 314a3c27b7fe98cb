//! The capture precheck (our extension, issue 20 §2): before a liveness clip is recorded, the
//! capture page sends a small camera frame to `POST /api/liveness/precheck` and guides the person
//! from the answer: no face, several faces, face too small, off-centre, too dark or too bright.
//! Detection runs in the vision crate; these are the rules that turn the detected boxes and the
//! face's brightness into one hint, in plain words.

use serde::Serialize;

/// A detected face box in pixels of the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// What the person should do before recording; `Ok` means ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hint {
    Ok,
    NoFace,
    SeveralFaces,
    TooSmall,
    TooClose,
    OffCentre,
    TooDark,
    TooBright,
}

impl Hint {
    /// The wire name (`"ok"`, `"no_face"`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NoFace => "no_face",
            Self::SeveralFaces => "several_faces",
            Self::TooSmall => "too_small",
            Self::TooClose => "too_close",
            Self::OffCentre => "off_centre",
            Self::TooDark => "too_dark",
            Self::TooBright => "too_bright",
        }
    }

    /// What the capture page tells the person, in plain words.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            Self::Ok => "Ready: keep your face in the oval",
            Self::NoFace => "No face found: look at the camera",
            Self::SeveralFaces => "More than one face: only one person should be in view",
            Self::TooSmall => "Move closer to the camera",
            Self::TooClose => "Move a little farther from the camera",
            Self::OffCentre => "Move your face to the middle of the oval",
            Self::TooDark => "Too dark: find more light",
            Self::TooBright => "Too bright: move away from direct light",
        }
    }
}

/// The thresholds of [`assess`]: fractions of the frame and mean luma (0-255) of the face box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecheckRules {
    /// The face's width must be at least this fraction of the frame's shorter side.
    pub min_face_fraction: f32,
    /// ... and at most this fraction (a face filling the frame loses its outline in turns).
    pub max_face_fraction: f32,
    /// The face centre may be this far from the frame centre, as a fraction of width and height.
    pub max_offset: f32,
    /// A second face counts when it is at least this fraction of the largest face's width (a
    /// small face far behind, a poster in the background, does not).
    pub second_face_fraction: f32,
    /// Mean luma of the face box below this is too dark.
    pub min_luma: f32,
    /// ... above this too bright.
    pub max_luma: f32,
}

impl Default for PrecheckRules {
    fn default() -> Self {
        Self {
            min_face_fraction: 0.25,
            max_face_fraction: 0.85,
            max_offset: 0.2,
            second_face_fraction: 0.5,
            min_luma: 50.0,
            max_luma: 225.0,
        }
    }
}

/// The verdict on one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub hint: Hint,
    /// Faces that count (see [`PrecheckRules::second_face_fraction`]).
    pub faces: usize,
    /// The largest face, if any.
    pub face: Option<FaceBox>,
    /// Face width over the frame's shorter side.
    pub face_fraction: Option<f32>,
    /// Distance of the face centre from the frame centre, fractions of width and height.
    pub offset: Option<(f32, f32)>,
}

/// Judges one frame of `width` x `height` pixels from its detected faces (any order) and the mean
/// luma of the largest face's box (`face_luma`, 0-255; ignored without a face). The first failing
/// rule wins, in the order a person fixes them: a face at all, one face, lighting, distance,
/// position.
#[must_use]
pub fn assess(width: u32, height: u32, faces: &[FaceBox], face_luma: Option<f32>, rules: &PrecheckRules) -> Assessment {
    let (fw, fh) = (width.max(1) as f32, height.max(1) as f32);
    let largest = faces.iter().copied().filter(|f| f.w > 0.0 && f.h > 0.0).max_by(|a, b| a.w.total_cmp(&b.w));
    let Some(face) = largest else {
        return Assessment { hint: Hint::NoFace, faces: 0, face: None, face_fraction: None, offset: None };
    };
    let counted = faces.iter().filter(|f| f.w >= face.w * rules.second_face_fraction).count();
    let fraction = face.w / fw.min(fh);
    let offset = (((face.x + face.w / 2.0) / fw - 0.5).abs(), ((face.y + face.h / 2.0) / fh - 0.5).abs());
    let luma = face_luma.unwrap_or(128.0);
    let hint = if counted > 1 {
        Hint::SeveralFaces
    } else if luma < rules.min_luma {
        Hint::TooDark
    } else if luma > rules.max_luma {
        Hint::TooBright
    } else if fraction < rules.min_face_fraction {
        Hint::TooSmall
    } else if fraction > rules.max_face_fraction {
        Hint::TooClose
    } else if offset.0 > rules.max_offset || offset.1 > rules.max_offset {
        Hint::OffCentre
    } else {
        Hint::Ok
    };
    Assessment { hint, faces: counted, face: Some(face), face_fraction: Some(fraction), offset: Some(offset) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centred(w: f32) -> FaceBox {
        FaceBox { x: 180.0 - w / 2.0, y: 320.0 - w * 0.6, w, h: w * 1.2 }
    }

    fn hint(faces: &[FaceBox], luma: f32) -> Hint {
        assess(360, 640, faces, Some(luma), &PrecheckRules::default()).hint
    }

    #[test]
    fn a_centred_face_of_good_size_is_ready() {
        let a = assess(360, 640, &[centred(150.0)], Some(120.0), &PrecheckRules::default());
        assert_eq!(a.hint, Hint::Ok);
        assert_eq!(a.faces, 1);
        let f = a.face_fraction.unwrap_or_default();
        assert!((f - 150.0 / 360.0).abs() < 1e-6, "{f}");
    }

    #[test]
    fn no_face_and_degenerate_boxes_are_no_face() {
        assert_eq!(hint(&[], 120.0), Hint::NoFace);
        assert_eq!(hint(&[FaceBox { x: 1.0, y: 1.0, w: 0.0, h: 10.0 }], 120.0), Hint::NoFace);
    }

    #[test]
    fn a_second_face_counts_only_when_comparable() {
        let far = FaceBox { x: 10.0, y: 10.0, w: 40.0, h: 48.0 };
        assert_eq!(hint(&[centred(150.0), far], 120.0), Hint::Ok);
        let near = FaceBox { x: 10.0, y: 10.0, w: 100.0, h: 120.0 };
        assert_eq!(hint(&[centred(150.0), near], 120.0), Hint::SeveralFaces);
    }

    #[test]
    fn lighting_before_distance_and_position() {
        assert_eq!(hint(&[centred(40.0)], 20.0), Hint::TooDark);
        assert_eq!(hint(&[centred(150.0)], 240.0), Hint::TooBright);
    }

    #[test]
    fn distance_and_position() {
        assert_eq!(hint(&[centred(60.0)], 120.0), Hint::TooSmall);
        assert_eq!(hint(&[centred(340.0)], 120.0), Hint::TooClose);
        let left = FaceBox { x: 0.0, y: 260.0, w: 120.0, h: 144.0 };
        assert_eq!(hint(&[left], 120.0), Hint::OffCentre);
        let low = FaceBox { x: 120.0, y: 520.0, w: 120.0, h: 110.0 };
        assert_eq!(hint(&[low], 120.0), Hint::OffCentre);
    }

    #[test]
    fn every_hint_has_words() {
        for h in [
            Hint::Ok,
            Hint::NoFace,
            Hint::SeveralFaces,
            Hint::TooSmall,
            Hint::TooClose,
            Hint::OffCentre,
            Hint::TooDark,
            Hint::TooBright,
        ] {
            assert!(!h.message().is_empty());
            assert_eq!(
                serde_json::to_value(h).ok().and_then(|v| v.as_str().map(str::to_owned)).as_deref(),
                Some(h.as_str())
            );
        }
    }
}
