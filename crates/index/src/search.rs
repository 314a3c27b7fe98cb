//! The exact scan: int8 dot products over every slot, a provable margin to skip, f32 re-scoring
//! of what may enter the top, and a bounded candidate list (with one entry per person on demand).

use std::cmp::Ordering;
use std::collections::HashSet;

use uuid::Uuid;

use crate::quant::{Kernel, Query, rescore};
use crate::shard::Shard;

/// A search gets one thread per this many templates (at most the asked thread count): below it a
/// thread's start-up and scheduling cost more than it saves (about 2.5 ms of scan at 128k).
pub(crate) const MIN_PER_THREAD: usize = 128 * 1024;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub score: f32,
    pub shard: u32,
    pub slot: u32,
}

/// A contiguous range of one shard.
#[derive(Clone, Copy)]
pub(crate) struct Part {
    pub shard: usize,
    pub start: usize,
    pub end: usize,
}

/// Best first; ties by collection, person, image id (ascending): independent of slot positions.
pub(crate) fn order(shards: &[&Shard], a: &Cand, b: &Cand) -> Ordering {
    b.score.total_cmp(&a.score).then_with(|| key(shards, a).cmp(&key(shards, b)))
}

fn key(shards: &[&Shard], c: &Cand) -> (Uuid, Uuid, Uuid) {
    let s = shards[c.shard as usize];
    (s.collection_id, s.person(c.slot as usize), s.image(c.slot as usize))
}

pub(crate) struct TopK<'a> {
    shards: &'a [&'a Shard],
    limit: usize,
    per_person: bool,
    min_cosine: f32,
    /// The score a candidate must reach to matter: `min_cosine`, or the worst kept score once
    /// `limit` (distinct persons) are held.
    floor: f32,
    cands: Vec<Cand>,
    cap: usize,
}

impl<'a> TopK<'a> {
    pub fn new(shards: &'a [&'a Shard], limit: usize, per_person: bool, min_cosine: f32) -> Self {
        let cap = limit.saturating_mul(2).max(limit.saturating_add(64));
        TopK { shards, limit, per_person, min_cosine, floor: min_cosine, cands: Vec::new(), cap }
    }

    #[inline]
    fn offer(&mut self, c: Cand) {
        if c.score < self.floor {
            return;
        }
        self.cands.push(c);
        if self.cands.len() >= self.cap {
            self.compact();
        }
    }

    /// Sorts, keeps the best image per person when asked, truncates to `limit`, raises the floor.
    pub fn compact(&mut self) {
        let shards = self.shards;
        self.cands.sort_unstable_by(|a, b| order(shards, a, b));
        if self.per_person {
            let mut seen: HashSet<(u32, Uuid)> = HashSet::with_capacity(self.cands.len().min(self.limit + 1));
            let mut kept = 0;
            self.cands.retain(|c| {
                if kept >= self.limit {
                    return false;
                }
                let fresh = seen.insert((c.shard, shards[c.shard as usize].person(c.slot as usize)));
                kept += usize::from(fresh);
                fresh
            });
        }
        self.cands.truncate(self.limit);
        if self.cands.len() == self.limit
            && let Some(last) = self.cands.last()
        {
            self.floor = self.floor.max(last.score);
        }
    }

    pub fn merge(&mut self, other: Vec<Cand>) {
        for c in other {
            self.offer(c);
        }
    }

    pub fn into_sorted(mut self) -> Vec<Cand> {
        self.compact();
        self.cands
    }

    /// Scans one range of one shard.
    pub fn scan(&mut self, q: &Query, kernel: Kernel, part: Part) {
        let shard = self.shards[part.shard];
        let dim = q.codes.len();
        let shard_ix = part.shard as u32;
        for (first, codes, scales) in shard.pieces(part.start, part.end) {
            for (i, (v, &s)) in codes.chunks_exact(dim).zip(scales).enumerate() {
                let approx = kernel.dot(&q.codes, v) as f32 * (q.scale * s);
                if approx + q.margin < self.floor {
                    continue;
                }
                let score = rescore(&q.f32, v, s);
                if score < self.min_cosine {
                    continue;
                }
                self.offer(Cand { score, shard: shard_ix, slot: (first + i) as u32 });
            }
        }
    }
}

/// Splits the slots of `shards` into at most `threads` groups of ranges of near-equal size, each
/// of at least `min_per_thread` slots when there is more than one.
pub(crate) fn split(lens: &[usize], threads: usize, min_per_thread: usize) -> Vec<Vec<Part>> {
    let total: usize = lens.iter().sum();
    let threads = threads.min(total / min_per_thread.max(1)).max(1);
    let per = total.div_ceil(threads).max(1);
    let mut out: Vec<Vec<Part>> = vec![Vec::new(); threads];
    let mut t = 0;
    let mut room = per;
    for (shard, &len) in lens.iter().enumerate() {
        let mut start = 0;
        while start < len {
            if room == 0 {
                t = (t + 1).min(threads - 1);
                room = per;
            }
            let end = if t == threads - 1 { len } else { (start + room).min(len) };
            out[t].push(Part { shard, start, end });
            room = room.saturating_sub(end - start);
            start = end;
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_everything_once() {
        for lens in [vec![0usize], vec![10], vec![100_000], vec![40_000, 1, 0, 70_000, 5], vec![1; 50_000]] {
            for threads in 1..5 {
                let parts = split(&lens, threads, 1000);
                assert!(parts.len() <= threads);
                let mut covered = vec![0usize; lens.len()];
                for p in parts.iter().flatten() {
                    assert!(p.start < p.end && p.end <= lens[p.shard]);
                    assert_eq!(covered[p.shard], p.start, "contiguous and in order");
                    covered[p.shard] = p.end;
                }
                assert_eq!(covered, lens);
            }
        }
        // big enough: really split in two near-equal halves
        let parts = split(&[100_000], 2, 1000);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0][0].end, 50_000);
        // too small to be worth a second thread
        assert_eq!(split(&[100_000], 2, MIN_PER_THREAD).len(), 1);
        assert_eq!(split(&[1_000_000], 8, MIN_PER_THREAD).len(), 7);
    }
}
