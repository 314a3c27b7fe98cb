//! Synthetic collections made from real SFace templates plus Gaussian noise (shared by the
//! criterion bench and the `scale` example).
//!
//! A synthetic person is `normalise(real + σ_person · g)` for one of the real templates: two
//! persons made from the same real face are as far apart as two real different people (cosine
//! about 0.25, see BENCHMARKS.md). An image of a person is `normalise(person + σ_image · g)`: two
//! images of one person are as close as two real photos of one person.
#![allow(dead_code, clippy::unwrap_used)]

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

pub const DIM: usize = 128;
pub const SIGMA_PERSON: f32 = 0.15;
pub const SIGMA_IMAGE: f32 = 0.055;
pub const IMAGES_PER_PERSON: usize = 2;

/// The real templates of `benches/data/templates.f32` (n x 128 f32 little-endian).
pub fn real_templates() -> Vec<Vec<f32>> {
    let bytes = include_bytes!("../data/templates.f32");
    bytes
        .chunks_exact(4 * DIM)
        .map(|t| t.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        .collect()
}

/// The source file of each real template (`benches/data/templates.tsv`, column 2).
pub fn real_sources() -> Vec<String> {
    include_str!("../data/templates.tsv")
        .lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            format!("{}#{}", cols[1], cols[2])
        })
        .collect()
}

pub fn gauss(rng: &mut SmallRng) -> f32 {
    let u1: f32 = rng.random::<f32>().max(1e-30);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

pub fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    for x in v {
        *x /= n;
    }
}

pub fn noisy(rng: &mut SmallRng, base: &[f32], sigma: f32) -> Vec<f32> {
    let mut v: Vec<f32> = base.iter().map(|x| x + sigma * gauss(rng)).collect();
    normalise(&mut v);
    v
}

pub fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A synthetic collection.
pub struct Synth {
    pub collection: Uuid,
    /// One vector per person.
    pub persons: Vec<Vec<f32>>,
    /// `IMAGES_PER_PERSON` images per person: entries and vectors (flat, `n * DIM`).
    pub entries: Vec<oz_index::Entry>,
    pub vectors: Vec<f32>,
}

impl Synth {
    pub fn new(real: &[Vec<f32>], n_templates: usize, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let collection = Uuid::from_u128(0xC0 << 64 | u128::from(seed));
        let n_persons = n_templates.div_ceil(IMAGES_PER_PERSON);
        let mut persons = Vec::with_capacity(n_persons);
        let mut entries = Vec::with_capacity(n_templates);
        let mut vectors = Vec::with_capacity(n_templates * DIM);
        for p in 0..n_persons {
            let person = noisy(&mut rng, &real[p % real.len()], SIGMA_PERSON);
            let person_id = Uuid::from_u128(1 << 100 | p as u128);
            for i in 0..IMAGES_PER_PERSON {
                if entries.len() == n_templates {
                    break;
                }
                let image_id = Uuid::from_u128(2 << 100 | (p * IMAGES_PER_PERSON + i) as u128);
                entries.push(oz_index::Entry { collection_id: collection, person_id, image_id });
                vectors.extend(noisy(&mut rng, &person, SIGMA_IMAGE));
            }
            persons.push(person);
        }
        Synth { collection, persons, entries, vectors }
    }

    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * DIM..(i + 1) * DIM]
    }

    pub fn items(&self) -> impl Iterator<Item = (oz_index::Entry, &[f32])> {
        self.entries.iter().copied().zip(self.vectors.chunks_exact(DIM))
    }

    /// A fresh image of person `p` (a query whose true match is that person).
    pub fn query_of(&self, rng: &mut SmallRng, p: usize) -> Vec<f32> {
        noisy(rng, &self.persons[p], SIGMA_IMAGE)
    }

    pub fn person_id(p: usize) -> Uuid {
        Uuid::from_u128(1 << 100 | p as u128)
    }
}

/// Percentile (0..=100) of a sorted slice.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[i]
}
