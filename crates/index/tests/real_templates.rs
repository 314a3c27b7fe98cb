//! The index on real SFace templates (benches/data): a true match stays first among thousands of
//! strangers, the int8 cosines stay within 0.005 of the f32 ones, and the ranking is the f32
//! ranking wherever the f32 scores are more than twice that apart.
#![allow(clippy::unwrap_used)]

#[path = "../benches/common/mod.rs"]
mod common;

use common::{DIM, Synth, cos};
use oz_index::{Entry, Index, SearchOptions};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use uuid::Uuid;

fn entry(c: u128, p: u128, i: u128) -> Entry {
    Entry { collection_id: Uuid::from_u128(c), person_id: Uuid::from_u128(p), image_id: Uuid::from_u128(i) }
}

#[test]
fn a_real_match_beats_noise_and_int8_keeps_the_ranking() {
    let real = common::real_templates();
    let sources = common::real_sources();
    assert_eq!(real.len(), 15);
    assert!(sources[0].starts_with("fr_obama.jpg") && sources[1].starts_with("fr_obama2.jpg"));
    for v in &real {
        assert!((cos(v, v) - 1.0).abs() < 1e-4);
    }

    // Strangers: synthetic people made from every real face except Obama's (rows 5..), and all the
    // real non-Obama faces themselves.
    let others: Vec<Vec<f32>> = real[5..].to_vec();
    let synth = Synth::new(&others, 20_000, 5);
    let index = Index::new(DIM, 2);
    let report = index.extend(synth.items());
    assert_eq!(report.inserted, 20_000);
    let blacklist = synth.collection;
    for (k, v) in others.iter().enumerate() {
        let e = Entry {
            collection_id: blacklist,
            person_id: Uuid::from_u128(500 + k as u128),
            image_id: Uuid::from_u128(500 + k as u128),
        };
        index.insert(e, v).unwrap();
    }
    // Obama in the blacklist with his podium photo; queried with the portrait and the full-body one.
    let obama = entry(0, 77, 77);
    let obama = Entry { collection_id: blacklist, ..obama };
    index.insert(obama, &real[1]).unwrap();
    for query in [&real[0], &real[2], &real[3]] {
        let hits = index.search(query, &[blacklist], -1.0, 10).unwrap();
        assert_eq!(hits[0].person_id, obama.person_id, "{hits:?}");
        let exact = cos(query, &real[1]);
        assert!((hits[0].cosine - exact).abs() < 0.005, "{} vs {exact}", hits[0].cosine);
        assert!(hits[0].cosine > 0.6);
        assert!(hits[1].cosine < 0.6, "the best stranger is far below: {}", hits[1].cosine);
    }

    // Every cosine of a full per-image search against f32, and the order against the f32 order.
    let mut rng = SmallRng::seed_from_u64(9);
    let all_vectors: std::collections::HashMap<Uuid, Vec<f32>> = synth
        .items()
        .map(|(e, v)| (e.image_id, v.to_vec()))
        .chain(others.iter().enumerate().map(|(k, v)| (Uuid::from_u128(500 + k as u128), v.clone())))
        .chain(std::iter::once((obama.image_id, real[1].clone())))
        .collect();
    for q in [real[0].clone(), real[2].clone(), synth.query_of(&mut rng, 123)] {
        let opts = SearchOptions { limit: usize::MAX, per_person: false, ..SearchOptions::default() };
        let hits = index.search_with(&q, &[blacklist], &opts).unwrap();
        assert_eq!(hits.len(), all_vectors.len());
        let exact: Vec<f32> = hits.iter().map(|h| cos(&q, &all_vectors[&h.image_id])).collect();
        for (h, e) in hits.iter().zip(&exact) {
            assert!((h.cosine - e).abs() < 0.005, "{} vs {e}", h.cosine);
        }
        // any two hits in the int8 order are in the f32 order unless their f32 scores are within 0.01
        let mut best_later = f32::NEG_INFINITY;
        for e in exact.iter().rev() {
            best_later = best_later.max(*e);
            assert!(*e > best_later - 0.01, "an image ranked lower by int8 is better by > 0.01 in f32");
        }
    }
}
