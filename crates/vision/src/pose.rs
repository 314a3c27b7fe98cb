//! Head pose (yaw, pitch, roll in degrees) with the HopeNet-style faceplugin `fr_pose` model:
//! box enlarged by 1/4 on each side, 224x224 RGB with ImageNet mean/std; three 66-bin outputs,
//! angle = sum(softmax(bins) * index) * 3 - 99.

use image::RgbImage;
use serde::Serialize;

use crate::detect::Face;
use crate::error::VisionError;
use crate::imgops::{self, Channels};
use crate::liveness::softmax;
use crate::runtime::ModelPool;

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
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
