#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::*;

const DIM: usize = 128;

fn gauss(rng: &mut StdRng) -> f32 {
    // Box-Muller
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

fn random_unit(rng: &mut StdRng) -> Vec<f32> {
    unit((0..DIM).map(|_| gauss(rng)).collect())
}

/// `base` plus Gaussian noise of `sigma` per component, re-normalised.
fn near(rng: &mut StdRng, base: &[f32], sigma: f32) -> Vec<f32> {
    unit(base.iter().map(|x| x + sigma * gauss(rng)).collect())
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn entry(c: u128, p: u128, i: u128) -> Entry {
    Entry { collection_id: id(c), person_id: id(p), image_id: id(i) }
}

fn opts(limit: usize, per_person: bool) -> SearchOptions {
    SearchOptions { limit, per_person, ..SearchOptions::default() }
}

impl Index {
    /// Every shard's invariants, and no image id in two shards.
    fn check(&self) {
        let mut images = std::collections::HashSet::new();
        for shard in self.shard_refs() {
            let s = shard.read();
            s.check();
            assert!(s.len() > 0, "no empty shard is kept");
            for slot in 0..s.len() {
                assert!(images.insert(s.image(slot)), "image id in two places");
            }
        }
    }
}

/// The exact answer by brute force over the stored int8 vectors (the reference of `search`).
fn brute(index: &Index, q: &[f32], collections: &[Uuid], o: &SearchOptions) -> Vec<Hit> {
    let q = &quant::checked_unit(q, DIM).unwrap();
    let mut all = Vec::new();
    for shard in index.shard_refs() {
        let s = shard.read();
        if !collections.contains(&s.collection_id) {
            continue;
        }
        for slot in 0..s.len() {
            let cosine = rescore(q, s.codes(slot), s.scale(slot));
            if cosine >= o.min_cosine {
                all.push(Hit {
                    collection_id: s.collection_id,
                    person_id: s.person(slot),
                    image_id: s.image(slot),
                    cosine,
                });
            }
        }
    }
    all.sort_by(|a, b| {
        b.cosine
            .total_cmp(&a.cosine)
            .then_with(|| (a.collection_id, a.person_id, a.image_id).cmp(&(b.collection_id, b.person_id, b.image_id)))
    });
    if o.per_person {
        let mut seen = std::collections::HashSet::new();
        all.retain(|h| seen.insert((h.collection_id, h.person_id)));
    }
    all.truncate(o.limit);
    for h in &mut all {
        h.cosine = h.cosine.clamp(-1.0, 1.0);
    }
    all
}

#[test]
fn insert_search_remove() {
    let mut rng = StdRng::seed_from_u64(1);
    let index = Index::new(DIM, 2);
    assert!(index.is_empty());
    let a = random_unit(&mut rng);
    let b = random_unit(&mut rng);
    assert_eq!(index.insert(entry(1, 10, 100), &a), Ok(false));
    assert_eq!(index.insert(entry(1, 11, 101), &b), Ok(false));
    assert_eq!(index.len(), 2);
    assert!(index.contains_image(id(100)));

    let hits = index.search_with(&a, &[id(1)], &opts(10, true)).unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].image_id, id(100));
    assert_eq!(hits[0].person_id, id(10));
    assert_eq!(hits[0].collection_id, id(1));
    assert!((hits[0].cosine - 1.0).abs() < 2e-3, "{}", hits[0].cosine);
    assert!(hits[1].cosine < 0.5);

    // limit and threshold
    assert_eq!(index.search_with(&a, &[id(1)], &opts(1, true)).unwrap().len(), 1);
    let strict = SearchOptions { min_cosine: 0.9, ..opts(10, true) };
    assert_eq!(index.search_with(&a, &[id(1)], &strict).unwrap().len(), 1);
    assert!(index.search_with(&a, &[id(1)], &opts(0, true)).unwrap().is_empty());
    assert!(index.search_with(&a, &[], &opts(10, true)).unwrap().is_empty());
    assert!(index.search_with(&a, &[id(99)], &opts(10, true)).unwrap().is_empty());

    assert!(index.remove_image(id(100)));
    assert!(!index.remove_image(id(100)));
    assert_eq!(index.len(), 1);
    let hits = index.search_with(&a, &[id(1)], &opts(10, true)).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].image_id, id(101));
    index.check();
}

#[test]
fn one_hit_per_person_by_default() {
    let mut rng = StdRng::seed_from_u64(2);
    let index = Index::new(DIM, 1);
    let face = random_unit(&mut rng);
    // person 10: three images of the face; person 11: one further image; 50 strangers
    for i in 0..3 {
        index.insert(entry(1, 10, 100 + i), &near(&mut rng, &face, 0.03)).unwrap();
    }
    index.insert(entry(1, 11, 200), &near(&mut rng, &face, 0.06)).unwrap();
    for i in 0..50 {
        index.insert(entry(1, 1000 + i, 5000 + i), &random_unit(&mut rng)).unwrap();
    }
    let hits = index.search_with(&face, &[id(1)], &opts(2, true)).unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].person_id, id(10));
    assert_eq!(hits[1].person_id, id(11));
    // the best image of person 10 is reported
    let all = index.search_with(&face, &[id(1)], &opts(10, false)).unwrap();
    assert_eq!(all.len(), 10);
    let best10 = all.iter().find(|h| h.person_id == id(10)).unwrap();
    assert_eq!(hits[0].image_id, best10.image_id);
    assert_eq!(hits[0].cosine, best10.cosine);
    // without dedup the three images of person 10 come first
    assert!(all[..3].iter().all(|h| h.person_id == id(10)));
    let persons: std::collections::HashSet<_> =
        index.search_with(&face, &[id(1)], &opts(100, true)).unwrap().iter().map(|h| h.person_id).collect();
    assert_eq!(persons.len(), 52);
}

#[test]
fn collections_are_separate() {
    let mut rng = StdRng::seed_from_u64(3);
    let index = Index::new(DIM, 2);
    let face = random_unit(&mut rng);
    index.insert(entry(2, 20, 200), &face).unwrap(); // the exact face, but in collection B
    for i in 0..20 {
        index.insert(entry(1, 10 + i, 100 + i), &random_unit(&mut rng)).unwrap();
    }
    let hits = index.search_with(&face, &[id(1)], &opts(100, false)).unwrap();
    assert_eq!(hits.len(), 20);
    assert!(hits.iter().all(|h| h.collection_id == id(1)));
    let both = index.search_with(&face, &[id(1), id(2), id(1)], &opts(100, false)).unwrap();
    assert_eq!(both.len(), 21);
    assert_eq!(both[0].image_id, id(200));
    assert_eq!(index.collection_len(id(2)), 1);
    assert_eq!(index.remove_collection(id(2)), 1);
    assert_eq!(index.remove_collection(id(2)), 0);
    assert!(index.search_with(&face, &[id(2)], &opts(100, false)).unwrap().is_empty());
    assert_eq!(index.collections(), vec![id(1)]);
    index.check();
}

#[test]
fn replacing_an_image_id() {
    let mut rng = StdRng::seed_from_u64(4);
    let index = Index::new(DIM, 1);
    let a = random_unit(&mut rng);
    let b = random_unit(&mut rng);
    index.insert(entry(1, 10, 100), &a).unwrap();
    index.insert(entry(1, 10, 101), &a).unwrap();
    // same image, same person: new vector in place
    assert_eq!(index.insert(entry(1, 10, 100), &b), Ok(true));
    assert_eq!(index.len(), 2);
    let hits = index.search_with(&b, &[id(1)], &opts(1, false)).unwrap();
    assert_eq!(hits[0].image_id, id(100));
    assert!(hits[0].cosine > 0.99);
    // same image, another person
    assert_eq!(index.insert(entry(1, 11, 100), &b), Ok(true));
    assert_eq!(index.len(), 2);
    assert_eq!(index.search_with(&b, &[id(1)], &opts(1, false)).unwrap()[0].person_id, id(11));
    // same image, another collection: it moves
    assert_eq!(index.insert(entry(2, 11, 100), &b), Ok(true));
    assert_eq!(index.len(), 2);
    assert_eq!(index.collection_len(id(1)), 1);
    assert_eq!(index.collection_len(id(2)), 1);
    index.check();
    // moving the last image of a collection away drops the collection
    assert_eq!(index.insert(entry(3, 10, 101), &a), Ok(true));
    assert_eq!(index.collection_len(id(1)), 0);
    let mut cs = index.collections();
    cs.sort();
    assert_eq!(cs, vec![id(2), id(3)]);
    index.check();
}

#[test]
fn remove_person_and_collection() {
    let mut rng = StdRng::seed_from_u64(5);
    let index = Index::new(DIM, 1);
    for p in 0..10u128 {
        for i in 0..5u128 {
            index.insert(entry(p % 2, p, p * 100 + i), &random_unit(&mut rng)).unwrap();
        }
    }
    assert_eq!(index.len(), 50);
    assert_eq!(index.remove_person(id(3)), 5);
    assert_eq!(index.remove_person(id(3)), 0);
    assert_eq!(index.len(), 45);
    index.check();
    let q = random_unit(&mut rng);
    assert!(index.search_with(&q, &[id(0), id(1)], &opts(100, false)).unwrap().iter().all(|h| h.person_id != id(3)));
    assert_eq!(index.remove_collection(id(1)), 20);
    assert_eq!(index.len(), 25);
    index.check();
}

#[test]
fn refuses_bad_vectors() {
    let index = Index::new(DIM, 1);
    let mut v = vec![0f32; DIM];
    v[0] = 1.0;
    assert_eq!(index.insert(entry(1, 1, 1), &v[..64]), Err(IndexError::Dimension { expected: DIM, got: 64 }));
    let mut nan = v.clone();
    nan[5] = f32::NAN;
    assert_eq!(index.insert(entry(1, 1, 1), &nan), Err(IndexError::NotFinite));
    let mut inf = v.clone();
    inf[5] = f32::NEG_INFINITY;
    assert_eq!(index.insert(entry(1, 1, 1), &inf), Err(IndexError::NotFinite));
    let double: Vec<f32> = v.iter().map(|x| x * 2.0).collect();
    assert!(matches!(index.insert(entry(1, 1, 1), &double), Err(IndexError::NotUnit(n)) if (n - 2.0).abs() < 1e-6));
    assert!(matches!(index.insert(entry(1, 1, 1), &vec![0f32; DIM]), Err(IndexError::NotUnit(_))));
    assert!(index.is_empty());
    assert_eq!(index.search_with(&nan, &[id(1)], &opts(10, true)), Err(IndexError::NotFinite));
    assert_eq!(
        index.search_with(&v[..3], &[id(1)], &opts(10, true)),
        Err(IndexError::Dimension { expected: DIM, got: 3 })
    );
    // slightly off unit length is accepted (and re-normalised)
    let mut close = v.clone();
    close[0] = 1.0005;
    assert_eq!(index.insert(entry(1, 1, 1), &close), Ok(false));
    // a bulk load skips and reports bad items
    let report = index.extend(vec![(entry(1, 2, 2), v.clone()), (entry(1, 3, 3), nan.clone())]);
    assert_eq!(report.inserted, 1);
    assert_eq!(report.rejected, vec![(entry(1, 3, 3), IndexError::NotFinite)]);
    assert_eq!(index.len(), 2);
}

/// Search returns exactly the brute-force top over the stored vectors, for every thread count,
/// kernel, limit and dedup mode, with several collections and persons with many images.
#[test]
fn search_is_exact_and_split_independent() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut index = Index::new(DIM, 3);
    index.min_per_thread = 1000;
    let faces: Vec<Vec<f32>> = (0..40).map(|_| random_unit(&mut rng)).collect();
    let mut items = Vec::new();
    for n in 0..45_000u128 {
        let person = n % 9000;
        let v = near(&mut rng, &faces[(person % 40) as usize], 0.12);
        items.push((entry(n % 3, person, 1_000_000 + n), v));
    }
    let report = index.extend(items);
    assert_eq!(report.inserted, 45_000);
    index.check();
    let all = [id(0), id(1), id(2)];
    for (qi, face) in faces.iter().take(4).enumerate() {
        let q = near(&mut rng, face, 0.05);
        for (limit, per_person, min) in [(1, true, -1.0), (10, true, -1.0), (25, false, -1.0), (100, true, 0.5)] {
            let base = SearchOptions { limit, per_person, min_cosine: min, ..SearchOptions::default() };
            let colls: &[Uuid] = if qi % 2 == 0 { &all } else { &all[1..] };
            let want = brute(&index, &q, colls, &base);
            assert!(!want.is_empty());
            for threads in [1, 2, 3, 7] {
                for kernel in [Kernel::SimSimd, Kernel::Portable] {
                    let o = SearchOptions { threads: NonZeroUsize::new(threads), kernel, ..base };
                    let got = index.search_with(&q, colls, &o).unwrap();
                    assert_eq!(got, want, "threads {threads} {kernel:?} {base:?}");
                }
            }
        }
    }
}

/// int8 storage moves cosines by little: bounded against the f32 cosine, and a true match stays
/// above every stranger.
#[test]
fn quantisation_error_is_small() {
    let mut rng = StdRng::seed_from_u64(7);
    let index = Index::new(DIM, 1);
    let mut stored = HashMap::new();
    let face = random_unit(&mut rng);
    for n in 0..2000u128 {
        let v = if n < 20 { near(&mut rng, &face, 0.05 + 0.005 * n as f32) } else { random_unit(&mut rng) };
        index.insert(entry(1, n, n), &v).unwrap();
        stored.insert(id(n), v);
    }
    let q = near(&mut rng, &face, 0.05);
    let hits = index.search_with(&q, &[id(1)], &opts(2000, false)).unwrap();
    assert_eq!(hits.len(), 2000);
    let mut max_err = 0f32;
    for h in &hits {
        let exact = dot_f32(&q, &stored[&h.image_id]);
        max_err = max_err.max((h.cosine - exact).abs());
    }
    assert!(max_err < 0.005, "max |int8 - f32| = {max_err}");
    // the 20 near copies of the face come first, in the f32 order up to the error
    let mut by_f32: Vec<(f32, Uuid)> = stored.iter().map(|(k, v)| (dot_f32(&q, v), *k)).collect();
    by_f32.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top20: std::collections::HashSet<Uuid> = hits[..20].iter().map(|h| h.image_id).collect();
    let want20: std::collections::HashSet<Uuid> = by_f32[..20].iter().map(|x| x.1).collect();
    assert_eq!(top20, want20);
    assert!(hits[..20].iter().all(|h| h.image_id.as_u128() < 20));
}

/// Random inserts, replacements and deletions against a plain map.
#[test]
fn random_operations_match_a_model() {
    let mut rng = StdRng::seed_from_u64(8);
    let index = Index::new(DIM, 2);
    let mut model: HashMap<Uuid, (Entry, Vec<f32>)> = HashMap::new();
    for step in 0..4000 {
        let op = rng.random_range(0..100);
        if op < 60 {
            let e = entry(rng.random_range(0..4), rng.random_range(0..60), rng.random_range(0..400));
            let v = random_unit(&mut rng);
            let replaced = index.insert(e, &v).unwrap();
            assert_eq!(replaced, model.insert(e.image_id, (e, v)).is_some());
        } else if op < 80 {
            let image = id(rng.random_range(0..400));
            assert_eq!(index.remove_image(image), model.remove(&image).is_some());
        } else if op < 95 {
            let person = id(rng.random_range(0..60));
            let before = model.len();
            model.retain(|_, (e, _)| e.person_id != person);
            assert_eq!(index.remove_person(person), before - model.len());
        } else {
            let c = id(rng.random_range(0..4));
            let before = model.len();
            model.retain(|_, (e, _)| e.collection_id != c);
            assert_eq!(index.remove_collection(c), before - model.len());
        }
        assert_eq!(index.len(), model.len());
        if step % 100 == 0 {
            index.check();
            let q = random_unit(&mut rng);
            let colls = [id(0), id(1), id(2), id(3)];
            let hits = index.search_with(&q, &colls, &opts(1000, false)).unwrap();
            assert_eq!(hits.len(), model.len());
            for h in hits {
                let (e, v) = &model[&h.image_id];
                assert_eq!((e.collection_id, e.person_id), (h.collection_id, h.person_id));
                assert!((h.cosine - dot_f32(&q, v)).abs() < 0.005);
            }
        }
    }
    index.check();
    index.shrink_to_fit();
    index.check();
}

#[test]
fn bulk_load_replaces_like_insert() {
    let mut rng = StdRng::seed_from_u64(9);
    let index = Index::new(DIM, 1);
    let a = random_unit(&mut rng);
    index.insert(entry(1, 1, 1), &a).unwrap();
    let report = index.extend(vec![
        (entry(2, 1, 1), a.clone()), // moves image 1 from an existing collection into a new one
        (entry(3, 2, 2), a.clone()),
        (entry(4, 2, 2), a.clone()), // moves image 2 between two new collections
        (entry(1, 5, 5), a.clone()), // existing collection
        (entry(3, 5, 5), a.clone()), // from the existing collection into a new one
    ]);
    assert_eq!((report.inserted, report.replaced), (2, 3), "{report:?}");
    assert_eq!(index.len(), 3);
    assert_eq!(index.collection_len(id(1)), 0);
    assert_eq!(index.collection_len(id(2)), 1);
    assert_eq!(index.collection_len(id(3)), 1);
    assert_eq!(index.collection_len(id(4)), 1);
    index.check();
}

#[test]
fn memory_accounting_is_close_to_the_data() {
    let mut rng = StdRng::seed_from_u64(10);
    let index = Index::new(DIM, 1);
    let n = 10_000;
    let items: Vec<_> = (0..n as u128).map(|i| (entry(1, i, i), random_unit(&mut rng))).collect();
    index.extend(items);
    let bytes = index.memory_bytes();
    let payload = n * (DIM + 4 + 16 + 16 + 8);
    assert!(bytes >= payload, "{bytes} < {payload}");
    assert!(bytes < payload + n * 24 + 4096, "{bytes}");
    assert!(index.remove_collection(id(1)) == n);
    assert!(index.memory_bytes() < 1024);
}

#[test]
fn concurrent_readers_and_a_writer() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut index = Index::new(DIM, 2);
    index.min_per_thread = 1000;
    let index = Arc::new(index);
    let face = random_unit(&mut rng);
    index.insert(entry(1, 1, 1), &face).unwrap();
    let items: Vec<_> = (10..40_000u128).map(|i| (entry(1 + i % 2, i, i), random_unit(&mut rng))).collect();
    index.extend(items);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (index, stop, face) = (index.clone(), stop.clone(), face.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 3 {
                    let hits = index.search_with(&face, &[id(1), id(2)], &opts(5, true)).unwrap();
                    // the face itself is never touched by the writer
                    assert_eq!(hits[0].image_id, id(1));
                    n += 1;
                }
            })
        })
        .collect();
    let mut wrng = StdRng::seed_from_u64(12);
    for i in 0..300u128 {
        index.insert(entry(1 + i % 3, 100_000 + i, 100_000 + i), &random_unit(&mut wrng)).unwrap();
        assert!(index.remove_image(id(10 + i)));
        if i % 50 == 0 {
            index.remove_person(id(100_000 + i));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    index.check();
    assert_eq!(index.len(), 1 + 39_990 + 300 - 300 - 6);
}

#[test]
fn builder_swaps_in_at_once_and_clear_empties() {
    let mut rng = StdRng::seed_from_u64(13);
    let index = Index::new(DIM, 2);
    let a = random_unit(&mut rng);
    index.insert(entry(1, 1, 1), &a).unwrap();
    let mut b = Builder::new(DIM);
    assert_eq!(b.insert(entry(2, 2, 2), &a), Ok(false));
    assert_eq!(b.insert(entry(3, 2, 2), &a), Ok(true)); // moved between collections
    assert_eq!(b.insert(entry(3, 3, 3), &a), Ok(false));
    assert!(matches!(b.insert(entry(3, 4, 4), &a[..5]), Err(IndexError::Dimension { .. })));
    assert_eq!(b.len(), 2);
    // the index is untouched until the swap
    assert_eq!(index.len(), 1);
    index.replace_all(b);
    assert_eq!(index.len(), 2);
    assert!(!index.contains_image(id(1)));
    assert_eq!(index.collections(), vec![id(3)]);
    let hits = index.search(&a, &[id(3)], 0.5, 10).unwrap();
    assert_eq!(hits.len(), 2);
    index.check();
    index.clear();
    assert!(index.is_empty());
    assert!(index.search(&a, &[id(3)], -1.0, 10).unwrap().is_empty());
}
