//! The numbers of BENCHMARKS.md at full scale (criterion's sampling is too slow at 1M):
//!
//! ```sh
//! cargo run --release -p oz-index --example scale            # 1M templates
//! cargo run --release -p oz-index --example scale -- 100000  # another size
//! ```
//!
//! Builds a synthetic collection from the real templates of `benches/data/` plus noise, bulk-loads
//! it from an in-memory `Vec<f32>`, and prints load time, memory, search, insert and remove
//! latencies, and the int8 error against f32.
#![allow(clippy::unwrap_used)]

#[path = "../benches/common/mod.rs"]
mod common;

use std::num::NonZeroUsize;
use std::time::Instant;

use common::{DIM, Synth, cos, pct};
use oz_index::{Entry, Index, Kernel, SearchOptions, dot_f32, dot_i8_simsimd, quantize, rescore};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!("p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}", pct(&v, 50.0), pct(&v, 90.0), pct(&v, 99.0), pct(&v, 100.0))
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let real = common::real_templates();
    let sources = common::real_sources();
    println!("cores: {:?}", std::thread::available_parallelism().map(NonZeroUsize::get));
    println!("real templates: {}", real.len());

    // Real pairs: the Obama photos are one person (crops of one photo left out), every other face
    // is another person.
    let person_of = |s: &str| if s.starts_with("fr_obama") { "obama".to_string() } else { s.to_string() };
    let (mut same, mut diff) = (Vec::new(), Vec::new());
    for i in 0..real.len() {
        for j in i + 1..real.len() {
            let c = f64::from(cos(&real[i], &real[j]));
            if person_of(&sources[i]) != person_of(&sources[j]) {
                diff.push(c);
            } else if !sources[i].contains("partial") && !sources[j].contains("partial") {
                same.push(c);
            }
        }
    }
    println!("real same-person cosines (obama photos): {}", summary(same));
    println!("real different-person cosines: {}", summary(diff));

    let t = Instant::now();
    let synth = Synth::new(&real, n, 42);
    println!("synthetic collection: {n} templates, {} persons, generated in {:.1} s", synth.persons.len(), ms(t) / 1e3);
    let mut rng = SmallRng::seed_from_u64(7);
    let (mut sd, mut ss) = (Vec::new(), Vec::new());
    for _ in 0..20_000 {
        let (a, b) = (rng.random_range(0..synth.persons.len()), rng.random_range(0..synth.persons.len()));
        if a != b {
            sd.push(f64::from(cos(synth.vector(a * 2), synth.vector(b * 2))));
        }
        if 2 * a + 1 < n {
            ss.push(f64::from(cos(synth.vector(a * 2), synth.vector(a * 2 + 1))));
        }
    }
    println!("synthetic different-person cosines: {}", summary(sd));
    println!("synthetic same-person cosines: {}", summary(ss));

    for round in 0..2 {
        println!("\n== round {} ==", round + 1);
        let index = Index::new(DIM, 2);
        let rss0 = rss_bytes();
        let t = Instant::now();
        let report = index.extend(synth.items());
        let load = ms(t);
        assert_eq!(report.inserted, n);
        let rss1 = rss_bytes();
        let mem = index.memory_bytes();
        println!("bulk load of {n}: {:.0} ms ({:.2} M templates/s)", load, n as f64 / load / 1e3);
        println!(
            "memory_bytes: {:.1} MB ({:.1} B/template); RSS delta {:.1} MB",
            mem as f64 / 1e6,
            mem as f64 / n as f64,
            (rss1 as f64 - rss0 as f64) / 1e6
        );

        let queries: Vec<(usize, Vec<f32>)> = (0..60)
            .map(|_| {
                let p = rng.random_range(0..synth.persons.len());
                (p, synth.query_of(&mut rng, p))
            })
            .collect();
        for (kernel, threads, min) in [
            (Kernel::SimSimd, 1, -1.0),
            (Kernel::SimSimd, 2, -1.0),
            (Kernel::SimSimd, 2, 0.5),
            (Kernel::Portable, 1, -1.0),
            (Kernel::Portable, 2, -1.0),
        ] {
            let opts = SearchOptions {
                min_cosine: min,
                limit: 10,
                per_person: true,
                threads: NonZeroUsize::new(threads),
                kernel,
            };
            let mut times = Vec::new();
            let mut rank1 = 0;
            for (k, (p, q)) in queries.iter().enumerate() {
                let t = Instant::now();
                let hits = index.search_with(q, &[synth.collection], &opts).unwrap();
                if k >= 5 {
                    times.push(ms(t));
                }
                rank1 += usize::from(hits.first().is_some_and(|h| h.person_id == Synth::person_id(*p)));
            }
            println!(
                "search {n}, {kernel:?}, {threads} thread(s), min_cosine {min}: {} ms; true person first {rank1}/{}",
                summary(times),
                queries.len()
            );
        }

        // Inserts and removes in the full index (new images of existing persons).
        let mut ins = Vec::new();
        let mut rem = Vec::new();
        let mut added = Vec::new();
        for k in 0..2000u128 {
            let p = rng.random_range(0..synth.persons.len());
            let v = synth.query_of(&mut rng, p);
            let e = Entry {
                collection_id: synth.collection,
                person_id: Synth::person_id(p),
                image_id: Uuid::from_u128(9 << 100 | k),
            };
            let t = Instant::now();
            index.insert(e, &v).unwrap();
            ins.push(ms(t));
            added.push(e.image_id);
        }
        for id in added {
            let t = Instant::now();
            assert!(index.remove_image(id));
            rem.push(ms(t));
        }
        let slowest = ins.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |x| x.0);
        println!("insert (index of {n}): {} ms (first {:.3} ms, slowest #{slowest})", summary(ins.clone()), ins[0]);
        println!("remove_image (index of {n}): {} ms", summary(rem));
        let t = Instant::now();
        let removed = index.remove_person(Synth::person_id(3));
        println!("remove_person ({removed} images): {:.3} ms", ms(t));
    }

    // The same collection grown one insert at a time (no bulk load, no shrink).
    {
        let index = Index::new(DIM, 2);
        let mut times = Vec::with_capacity(n);
        let t0 = Instant::now();
        for (e, v) in synth.items() {
            let t = Instant::now();
            index.insert(e, v).unwrap();
            times.push(ms(t));
        }
        let total = ms(t0);
        let mem = index.memory_bytes();
        println!(
            "\ngrown by {n} single inserts in {:.0} ms: insert {} ms; memory_bytes {:.1} MB ({:.1} B/template)",
            total,
            summary(times),
            mem as f64 / 1e6,
            mem as f64 / n as f64
        );
    }

    // int8 error against f32 over (query, stored) pairs: 40 queries x 25 000 templates, plus each
    // query against the images of its own person (the high cosines that decide matches).
    let mut qcodes = vec![0i8; DIM];
    let mut vcodes = vec![0i8; DIM];
    let (mut e_scan, mut e_ret) = (Vec::new(), Vec::new());
    let (mut m_scan, mut m_ret) = (Vec::new(), Vec::new());
    let stride = (n / 25_000).max(1);
    for _ in 0..40 {
        let p = rng.random_range(0..synth.persons.len());
        let q = synth.query_of(&mut rng, p);
        let qs = quantize(&q, &mut qcodes);
        let mut pair = |i: usize, scan: &mut Vec<f64>, ret: &mut Vec<f64>| {
            let v = synth.vector(i);
            let vs = quantize(v, &mut vcodes);
            let exact = dot_f32(&q, v);
            let s = dot_i8_simsimd(&qcodes, &vcodes) as f32 * qs * vs;
            let r = rescore(&q, &vcodes, vs);
            scan.push(f64::from((s - exact).abs()));
            ret.push(f64::from((r - exact).abs()));
        };
        for i in (0..n).step_by(stride) {
            pair(i, &mut e_scan, &mut e_ret);
        }
        for i in [2 * p, 2 * p + 1] {
            if i < n {
                pair(i, &mut m_scan, &mut m_ret);
            }
        }
    }
    let pr = |name: &str, mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        println!(
            "{name}: {} pairs, |error| p50 {:.5} p99 {:.5} max {:.5}",
            v.len(),
            pct(&v, 50.0),
            pct(&v, 99.0),
            pct(&v, 100.0)
        );
    };
    pr("int8 x int8 scan score vs f32 (query vs any)", e_scan);
    pr("returned f32 x int8 cosine vs f32 (query vs any)", e_ret);
    pr("int8 x int8 scan score vs f32 (query vs own person)", m_scan);
    pr("returned f32 x int8 cosine vs f32 (query vs own person)", m_ret);
}
