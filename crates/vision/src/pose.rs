//! Head pose (yaw, pitch, roll in degrees) with the HopeNet-style faceplugin `fr_pose` model:
//! box enlarged by 1/4 on each side, 224x224 RGB with ImageNet mean/std; three 66-bin outputs,
//! angle = sum(softmax(bins) * index) * 3 - 99.
//!
//! Where a frame already has its face mesh (the spread frames of a video, for the planarity
//! signal), [`Pose::from_mesh`] reads the same angles off the mesh instead of running the model:
//! calibrated against the model on the fixture clips (docs/CALIBRATION.md, "Head pose from the
//! mesh"), it agrees within about 2 degrees RMS.

use image::RgbImage;
use serde::Serialize;

use crate::detect::Face;
use crate::error::VisionError;
use crate::gesture::mesh_angles;
use crate::imgops::{self, Channels};
use crate::liveness::softmax;
use crate::mesh::{FaceMesh, landmarks as lm};
use crate::runtime::ModelPool;

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

/// The pose model's angles as linear functions (offset, slope) of the mesh's: yaw and pitch of
/// [`mesh_angles`] (its yaw is positive the other way), roll of the line between the outer eye
/// corners. Least squares over the 252 analysed frames of the 26 fixture clips whose mesh is a
/// face (docs/CALIBRATION.md); left out one clip at a time they predict the model within 1.6
/// (yaw), 2.3 (pitch) and 1.3 (roll) degrees RMS, 6.1 at worst.
const YAW_FROM_MESH: (f32, f32) = (-1.88, -1.067);
const PITCH_FROM_MESH: (f32, f32) = (-8.20, 1.309);
const ROLL_FROM_MESH: (f32, f32) = (-1.57, 0.903);

impl Pose {
    /// The pose the model would give, read off a face mesh; `None` when the mesh is not a face
    /// ([`FaceMesh::is_face`]: its points are not to be trusted, e.g. on a blurred or dark frame)
    /// or is degenerate.
    #[must_use]
    pub fn from_mesh(mesh: &FaceMesh) -> Option<Pose> {
        if !mesh.is_face() {
            return None;
        }
        let (yaw, pitch) = mesh_angles(mesh)?;
        let (a, b) = (mesh.xy(lm::RIGHT_EYE_OUTER), mesh.xy(lm::LEFT_EYE_OUTER));
        let roll = (b[1] - a[1]).atan2(b[0] - a[0]).to_degrees();
        let lin = |(offset, slope): (f32, f32), v: f32| offset + slope * v;
        let pose =
            Pose { yaw: lin(YAW_FROM_MESH, yaw), pitch: lin(PITCH_FROM_MESH, pitch), roll: lin(ROLL_FROM_MESH, roll) };
        [pose.yaw, pose.pitch, pose.roll].iter().all(|v| v.is_finite()).then_some(pose)
    }
}

const MEAN: [f32; 3] = [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0];
const STD: [f32; 3] = [0.229 * 255.0, 0.224 * 255.0, 0.225 * 255.0];

fn angle(bins: &[f32]) -> f32 {
    softmax(bins).iter().enumerate().map(|(i, p)| p * i as f32).sum::<f32>() * 3.0 - 99.0
}

pub fn estimate(pool: &ModelPool, img: &RgbImage, face: &Face) -> Result<Pose, VisionError> {
    let (dx, dy) = (face.w / 4.0, face.h / 4.0);
    let crop =
        (f64::from(face.x - dx), f64::from(face.y - dy), f64::from(face.w + 2.0 * dx), f64::from(face.h + 2.0 * dy));
    let resized = imgops::resize(img, Some(crop), 224, 224)?;
    let data = imgops::to_nchw(&resized, Channels::Rgb, MEAN, STD);
    let outs = pool.run("input", &[1, 3, 224, 224], data)?;
    if outs.len() < 3 || outs.iter().take(3).any(|(_, _, d)| d.len() != 66) {
        return Err(VisionError::Model("pose model gave unexpected outputs".into()));
    }
    Ok(Pose { yaw: angle(&outs[0].2), pitch: angle(&outs[1].2), roll: angle(&outs[2].2) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn angle_of_centre_bin_is_zero() {
        let mut bins = vec![-50.0f32; 66];
        bins[33] = 50.0;
        assert!(super::angle(&bins).abs() < 1e-3);
    }
}
