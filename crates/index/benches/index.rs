//! `cargo bench -p oz-index`: int8 kernels (simsimd vs a plain loop), search and insert over a
//! synthetic collection of 100k templates made from the real templates of `benches/data/`.
//! The 1M numbers come from `cargo run --release -p oz-index --example scale`.
#![allow(clippy::unwrap_used)]

mod common;

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use common::{DIM, Synth};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oz_index::{Entry, Index, Kernel, SearchOptions, dot_i8_portable, dot_i8_simsimd, quantize};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use uuid::Uuid;

const N: usize = 100_000;

fn kernels(c: &mut Criterion) {
    let real = common::real_templates();
    let synth = Synth::new(&real, 10_000, 1);
    let mut codes = vec![0i8; 10_000 * DIM];
    for (i, chunk) in codes.chunks_exact_mut(DIM).enumerate() {
        quantize(synth.vector(i), chunk);
    }
    let mut q = vec![0i8; DIM];
    quantize(synth.vector(17), &mut q);
    let mut g = c.benchmark_group("dot_i8_128d_x10k");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("simsimd", |b| {
        b.iter(|| codes.chunks_exact(DIM).map(|v| dot_i8_simsimd(black_box(&q), v)).fold(0i64, |a, d| a + i64::from(d)))
    });
    g.bench_function("portable", |b| {
        b.iter(|| {
            codes.chunks_exact(DIM).map(|v| dot_i8_portable(black_box(&q), v)).fold(0i64, |a, d| a + i64::from(d))
        })
    });
    g.finish();
}

fn search(c: &mut Criterion) {
    let real = common::real_templates();
    let synth = Synth::new(&real, N, 2);
    let index = Index::new(DIM, 2);
    index.extend(synth.items());
    let mut rng = SmallRng::seed_from_u64(3);
    let queries: Vec<Vec<f32>> = (0..16).map(|p| synth.query_of(&mut rng, p * 997)).collect();
    // 100k stays on one thread whatever the thread count (one thread per 128k templates, see
    // MIN_PER_THREAD in src/search.rs): the 2t variants show that the option costs nothing there.
    let mut g = c.benchmark_group("search_100k");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    for (kernel, threads) in [(Kernel::SimSimd, 1), (Kernel::SimSimd, 2), (Kernel::Portable, 1), (Kernel::Portable, 2)]
    {
        let opts = SearchOptions { threads: NonZeroUsize::new(threads), kernel, ..SearchOptions::default() };
        let mut k = 0;
        g.bench_function(format!("{kernel:?}_{threads}t"), |b| {
            b.iter(|| {
                k = (k + 1) % queries.len();
                index.search_with(&queries[k], &[synth.collection], &opts).unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("write_100k");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    let mut next = 0u128;
    g.bench_function("insert", |b| {
        b.iter_custom(|iters| {
            let ids: Vec<Uuid> = (0..iters).map(|k| Uuid::from_u128(7 << 100 | (next + u128::from(k)))).collect();
            next += u128::from(iters);
            let vectors: Vec<Vec<f32>> = (0..iters).map(|k| synth.query_of(&mut rng, k as usize % 1000)).collect();
            let t = Instant::now();
            for (k, (id, v)) in ids.iter().zip(&vectors).enumerate() {
                let e = Entry { collection_id: synth.collection, person_id: Synth::person_id(k % 1000), image_id: *id };
                index.insert(e, v).unwrap();
            }
            let elapsed = t.elapsed();
            for id in ids {
                index.remove_image(id);
            }
            elapsed
        })
    });
    g.bench_function("remove_image", |b| {
        b.iter_custom(|iters| {
            let ids: Vec<Uuid> = (0..iters).map(|k| Uuid::from_u128(8 << 100 | (next + u128::from(k)))).collect();
            next += u128::from(iters);
            for (k, id) in ids.iter().enumerate() {
                let e = Entry { collection_id: synth.collection, person_id: Synth::person_id(k % 1000), image_id: *id };
                index.insert(e, synth.vector(k % N)).unwrap();
            }
            let t = Instant::now();
            for id in ids {
                index.remove_image(id);
            }
            t.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, kernels, search);
criterion_main!(benches);
