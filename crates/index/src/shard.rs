//! One collection's templates, stored column-wise in chunks of 16k slots ([`Column`]).
//!
//! Slots `0..len` are dense: removing a slot moves the last one into the hole (swap-remove), so
//! every removal is O(1) and a scan walks contiguous memory (one piece per chunk). Two hash tables that hold only slot
//! numbers (`u32`; the keys are read from the columns) find an image's slot and a person's slots;
//! the images of one person form a circular doubly linked list through `next`/`prev`.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use uuid::Uuid;

use crate::IndexError;
use crate::column::Column;

pub(crate) struct Shard {
    pub collection_id: Uuid,
    dim: usize,
    /// `dim` int8 codes per slot.
    codes: Column<i8>,
    scales: Column<f32>,
    images: Column<Uuid>,
    persons: Column<Uuid>,
    next: Column<u32>,
    prev: Column<u32>,
    len: usize,
    /// image id → slot
    image_slots: HashTable<u32>,
    /// person id → one slot of that person (the head of its list)
    person_heads: HashTable<u32>,
    hasher: RandomState,
}

impl Shard {
    pub fn new(collection_id: Uuid, dim: usize) -> Self {
        Shard {
            collection_id,
            dim,
            codes: Column::new(dim),
            scales: Column::new(1),
            images: Column::new(1),
            persons: Column::new(1),
            next: Column::new(1),
            prev: Column::new(1),
            len: 0,
            image_slots: HashTable::new(),
            person_heads: HashTable::new(),
            hasher: RandomState::new(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn codes(&self, slot: usize) -> &[i8] {
        self.codes.get(slot)
    }

    #[cfg(test)]
    pub fn scale(&self, slot: usize) -> f32 {
        self.scales.at(slot)
    }

    /// Codes and scales of slots `start..end`, as contiguous pieces `(first slot, codes, scales)`.
    pub fn pieces(&self, start: usize, end: usize) -> impl Iterator<Item = (usize, &[i8], &[f32])> {
        self.codes.pieces(start, end).zip(self.scales.pieces(start, end)).map(|((s, c), (_, sc))| (s, c, sc))
    }

    #[inline]
    pub fn image(&self, slot: usize) -> Uuid {
        self.images.at(slot)
    }

    #[inline]
    pub fn person(&self, slot: usize) -> Uuid {
        self.persons.at(slot)
    }

    pub fn find_image(&self, image: Uuid) -> Option<usize> {
        let h = self.hasher.hash_one(image);
        self.image_slots.find(h, |&s| self.images.at(s as usize) == image).map(|&s| s as usize)
    }

    pub fn has_person(&self, person: Uuid) -> bool {
        self.person_head(person).is_some()
    }

    fn person_head(&self, person: Uuid) -> Option<usize> {
        let h = self.hasher.hash_one(person);
        self.person_heads.find(h, |&s| self.persons.at(s as usize) == person).map(|&s| s as usize)
    }

    /// Overwrites the vector of an existing slot.
    pub fn set_vector(&mut self, slot: usize, codes: &[i8], scale: f32) {
        self.codes.get_mut(slot).copy_from_slice(codes);
        self.scales.set(slot, scale);
    }

    pub fn shrink_to_fit(&mut self) {
        self.codes.shrink_to_fit();
        self.scales.shrink_to_fit();
        self.images.shrink_to_fit();
        self.persons.shrink_to_fit();
        self.next.shrink_to_fit();
        self.prev.shrink_to_fit();
        let (images, hasher) = (&self.images, &self.hasher);
        self.image_slots.shrink_to_fit(|&s| hasher.hash_one(images.at(s as usize)));
        let persons = &self.persons;
        self.person_heads.shrink_to_fit(|&s| hasher.hash_one(persons.at(s as usize)));
    }

    /// Appends a template whose image id is not in this shard.
    pub fn push(&mut self, person: Uuid, image: Uuid, codes: &[i8], scale: f32) -> Result<(), IndexError> {
        let slot = self.len();
        let Ok(s) = u32::try_from(slot) else {
            return Err(IndexError::Full(slot));
        };
        if s == u32::MAX {
            return Err(IndexError::Full(slot));
        }
        debug_assert_eq!(codes.len(), self.dim);
        self.codes.push(codes);
        self.scales.push(&[scale]);
        self.images.push(&[image]);
        self.persons.push(&[person]);
        self.len += 1;
        match self.person_head(person) {
            Some(head) => {
                // insert before the head, i.e. at the tail of the circular list
                let tail = self.prev.at(head) as usize;
                self.next.push(&[head as u32]);
                self.prev.push(&[tail as u32]);
                self.next.set(tail, s);
                self.prev.set(head, s);
            }
            None => {
                self.next.push(&[s]);
                self.prev.push(&[s]);
                let (persons, hasher) = (&self.persons, &self.hasher);
                self.person_heads
                    .insert_unique(hasher.hash_one(person), s, |&x| hasher.hash_one(persons.at(x as usize)));
            }
        }
        let (images, hasher) = (&self.images, &self.hasher);
        self.image_slots.insert_unique(hasher.hash_one(image), s, |&x| hasher.hash_one(images.at(x as usize)));
        Ok(())
    }

    /// Removes a slot (swap-remove, O(1)).
    pub fn remove_slot(&mut self, h: usize) {
        let last = self.len - 1;
        let h32 = h as u32;
        let image = self.images.at(h);
        let person = self.persons.at(h);

        let ih = self.hasher.hash_one(image);
        if let Ok(e) = self.image_slots.find_entry(ih, |&s| s == h32) {
            e.remove();
        }
        let ph = self.hasher.hash_one(person);
        let (nx, pv) = (self.next.at(h) as usize, self.prev.at(h) as usize);
        if nx == h {
            if let Ok(e) = self.person_heads.find_entry(ph, |&s| s == h32) {
                e.remove();
            }
        } else {
            self.next.set(pv, nx as u32);
            self.prev.set(nx, pv as u32);
            if let Some(head) = self.person_heads.find_mut(ph, |&s| s == h32) {
                *head = nx as u32;
            }
        }

        if h != last {
            let last32 = last as u32;
            // the last slot's list neighbours point at its new place
            let (ln, lp) = (self.next.at(last) as usize, self.prev.at(last) as usize);
            if ln == last {
                self.next.set(last, h32);
                self.prev.set(last, h32);
            } else {
                self.next.set(lp, h32);
                self.prev.set(ln, h32);
            }
            let mh = self.hasher.hash_one(self.images.at(last));
            if let Some(s) = self.image_slots.find_mut(mh, |&s| s == last32) {
                *s = h32;
            }
            let mp = self.hasher.hash_one(self.persons.at(last));
            if let Some(s) = self.person_heads.find_mut(mp, |&s| s == last32) {
                *s = h32;
            }
        }
        self.codes.swap_remove(h);
        self.scales.swap_remove(h);
        self.images.swap_remove(h);
        self.persons.swap_remove(h);
        self.next.swap_remove(h);
        self.prev.swap_remove(h);
        self.len = last;
    }

    /// Removes every image of `person`; returns how many.
    pub fn remove_person(&mut self, person: Uuid) -> usize {
        let mut n = 0;
        while let Some(head) = self.person_head(person) {
            self.remove_slot(head);
            n += 1;
        }
        n
    }

    /// Heap bytes held (capacities, not lengths) plus the struct itself.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.codes.capacity_bytes()
            + self.scales.capacity_bytes()
            + self.images.capacity_bytes()
            + self.persons.capacity_bytes()
            + self.next.capacity_bytes()
            + self.prev.capacity_bytes()
            + self.image_slots.allocation_size()
            + self.person_heads.allocation_size()
    }

    /// Checks every internal invariant (tests).
    #[cfg(test)]
    pub fn check(&self) {
        let n = self.len();
        assert_eq!(self.image_slots.len(), n);
        for slot in 0..n {
            assert_eq!(self.codes(slot).len(), self.dim);
            assert_eq!(self.find_image(self.images.at(slot)), Some(slot));
            assert_eq!(self.prev.at(self.next.at(slot) as usize) as usize, slot);
            assert_eq!(self.persons.at(self.next.at(slot) as usize), self.persons.at(slot));
        }
        let mut seen = 0;
        for &head in &self.person_heads {
            let person = self.persons.at(head as usize);
            assert_eq!(self.person_head(person), Some(head as usize));
            let mut s = head as usize;
            loop {
                assert_eq!(self.persons.at(s), person);
                seen += 1;
                s = self.next.at(s) as usize;
                if s == head as usize {
                    break;
                }
            }
        }
        assert_eq!(seen, n, "person lists cover every slot once");
    }
}
