//! A column of fixed-width slots stored in chunks of [`CHUNK_SLOTS`] slots.
//!
//! Growing never copies what is stored (a full chunk is never reallocated): an insert costs at
//! most one chunk allocation, and the spare capacity is at most one chunk plus one empty chunk kept
//! at the end (a first chunk grows by doubling, so a small collection stays small).

/// Slots per chunk (a power of two): 16k slots = 2 MiB of 128-d int8 codes.
pub(crate) const CHUNK_SLOTS: usize = 16 * 1024;
const SHIFT: u32 = CHUNK_SLOTS.trailing_zeros();
const MASK: usize = CHUNK_SLOTS - 1;

pub(crate) struct Column<T> {
    chunks: Vec<Vec<T>>,
    /// Elements per slot.
    width: usize,
    /// Slots stored.
    len: usize,
}

impl<T: Copy> Column<T> {
    pub fn new(width: usize) -> Self {
        Column { chunks: Vec::new(), width, len: 0 }
    }

    #[cfg(test)]
    pub fn get(&self, slot: usize) -> &[T] {
        let o = (slot & MASK) * self.width;
        &self.chunks[slot >> SHIFT][o..o + self.width]
    }

    #[inline]
    pub fn get_mut(&mut self, slot: usize) -> &mut [T] {
        let o = (slot & MASK) * self.width;
        &mut self.chunks[slot >> SHIFT][o..o + self.width]
    }

    /// Appends one slot (`vals.len() == width`).
    pub fn push(&mut self, vals: &[T]) {
        debug_assert_eq!(vals.len(), self.width);
        let c = self.len >> SHIFT;
        let full = CHUNK_SLOTS * self.width;
        if c == self.chunks.len() {
            // a first chunk grows by doubling; later ones are allocated whole
            self.chunks.push(if c == 0 { Vec::new() } else { Vec::with_capacity(full) });
        }
        let chunk = &mut self.chunks[c];
        if chunk.len() == chunk.capacity() {
            let grow = chunk.capacity().max(4 * self.width).min(full - chunk.len());
            chunk.reserve_exact(grow);
        }
        chunk.extend_from_slice(vals);
        self.len += 1;
    }

    /// Moves the last slot into `slot` (unless it is the last) and drops the last slot.
    pub fn swap_remove(&mut self, slot: usize) {
        let last = self.len - 1;
        let w = self.width;
        if slot != last {
            let (cs, os) = (slot >> SHIFT, (slot & MASK) * w);
            let (cl, ol) = (last >> SHIFT, (last & MASK) * w);
            if cs == cl {
                self.chunks[cs].copy_within(ol..ol + w, os);
            } else {
                let (head, tail) = self.chunks.split_at_mut(cl);
                head[cs][os..os + w].copy_from_slice(&tail[0][ol..ol + w]);
            }
        }
        let cl = last >> SHIFT;
        self.chunks[cl].truncate((last & MASK) * w);
        self.len = last;
        // keep at most one empty chunk at the end (no allocation churn at a chunk boundary)
        while self.chunks.len() >= 2 && self.chunks.iter().rev().take(2).all(Vec::is_empty) {
            self.chunks.pop();
        }
    }

    /// The stored slots `start..end` as contiguous pieces: `(first slot, elements)`.
    pub fn pieces(&self, start: usize, end: usize) -> impl Iterator<Item = (usize, &[T])> {
        let w = self.width;
        let mut s = start;
        std::iter::from_fn(move || {
            if s >= end {
                return None;
            }
            let c = s >> SHIFT;
            let stop = end.min((c + 1) << SHIFT);
            let piece = &self.chunks[c][(s & MASK) * w..(stop - (c << SHIFT)) * w];
            let first = s;
            s = stop;
            Some((first, piece))
        })
    }

    /// Bytes of the allocated capacity (and of the chunk list).
    pub fn capacity_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<T>>()
            + self.chunks.iter().map(|c| c.capacity() * std::mem::size_of::<T>()).sum::<usize>()
    }

    pub fn shrink_to_fit(&mut self) {
        while self.chunks.last().is_some_and(Vec::is_empty) {
            self.chunks.pop();
        }
        if let Some(last) = self.chunks.last_mut() {
            last.shrink_to_fit();
        }
        self.chunks.shrink_to_fit();
    }
}

impl<T: Copy> Column<T> {
    /// The value of a slot of a one-element-wide column.
    #[inline]
    pub fn at(&self, slot: usize) -> T {
        self.chunks[slot >> SHIFT][slot & MASK]
    }

    #[inline]
    pub fn set(&mut self, slot: usize, v: T) {
        self.chunks[slot >> SHIFT][slot & MASK] = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_swap_remove_across_chunks() {
        let mut c: Column<u32> = Column::new(2);
        let n = CHUNK_SLOTS * 2 + 100;
        for i in 0..n as u32 {
            c.push(&[i, i + 1]);
        }
        assert_eq!(c.len, n);
        assert_eq!(c.get(CHUNK_SLOTS + 5), &[CHUNK_SLOTS as u32 + 5, CHUNK_SLOTS as u32 + 6]);
        // no chunk is bigger than a chunk, and spare room is at most one chunk
        assert!(c.chunks.iter().all(|ch| ch.capacity() <= 2 * CHUNK_SLOTS));
        c.swap_remove(3); // last (in chunk 2) moves into chunk 0
        assert_eq!(c.get(3), &[n as u32 - 1, n as u32]);
        for _ in 0..150 {
            c.swap_remove(0);
        }
        assert_eq!(c.len, n - 151);
        assert_eq!(c.chunks.len(), 3, "one empty chunk kept at the end");
        assert!(c.chunks[2].is_empty());
        let pieces: Vec<(usize, usize)> = c.pieces(10, CHUNK_SLOTS + 20).map(|(s, p)| (s, p.len())).collect();
        assert_eq!(pieces, vec![(10, (CHUNK_SLOTS - 10) * 2), (CHUNK_SLOTS, 40)]);
        assert_eq!(c.pieces(5, 5).count(), 0);
        c.shrink_to_fit();
        assert_eq!(c.chunks.len(), 2);
        let mut w: Column<u8> = Column::new(1);
        for i in 0..10u8 {
            w.push(&[i]);
        }
        assert!(w.capacity_bytes() <= 16 + 4 * 24, "a small column stays small: {}", w.capacity_bytes());
        assert_eq!(w.at(7), 7);
        w.set(7, 70);
        assert_eq!(w.get(7), &[70]);
        *w.get_mut(7).first_mut().unwrap_or(&mut 0) = 71;
        assert_eq!(w.at(7), 71);
    }
}
