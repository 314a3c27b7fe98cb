//! One collection's templates, stored column-wise.
//!
//! Slots `0..len` are dense: removing a slot moves the last one into the hole (swap-remove), so
//! every removal is O(1) and a scan walks contiguous memory. Two hash tables that hold only slot
//! numbers (`u32`; the keys are read from the columns) find an image's slot and a person's slots;
//! the images of one person form a circular doubly linked list through `next`/`prev`.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;
use uuid::Uuid;

use crate::IndexError;

pub(crate) struct Shard {
    pub collection_id: Uuid,
    dim: usize,
    /// `len * dim` int8 codes, slot after slot.
    codes: Vec<i8>,
    scales: Vec<f32>,
    images: Vec<Uuid>,
    persons: Vec<Uuid>,
    next: Vec<u32>,
    prev: Vec<u32>,
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
            codes: Vec::new(),
            scales: Vec::new(),
            images: Vec::new(),
            persons: Vec::new(),
            next: Vec::new(),
            prev: Vec::new(),
            image_slots: HashTable::new(),
            person_heads: HashTable::new(),
            hasher: RandomState::new(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.scales.len()
    }

    #[cfg(test)]
    pub fn codes(&self, slot: usize) -> &[i8] {
        &self.codes[slot * self.dim..(slot + 1) * self.dim]
    }

    /// All codes, `len * dim` of them.
    #[inline]
    pub fn all_codes(&self) -> &[i8] {
        &self.codes
    }

    #[inline]
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    #[inline]
    pub fn image(&self, slot: usize) -> Uuid {
        self.images[slot]
    }

    #[inline]
    pub fn person(&self, slot: usize) -> Uuid {
        self.persons[slot]
    }

    pub fn find_image(&self, image: Uuid) -> Option<usize> {
        let h = self.hasher.hash_one(image);
        self.image_slots.find(h, |&s| self.images[s as usize] == image).map(|&s| s as usize)
    }

    pub fn has_person(&self, person: Uuid) -> bool {
        self.person_head(person).is_some()
    }

    fn person_head(&self, person: Uuid) -> Option<usize> {
        let h = self.hasher.hash_one(person);
        self.person_heads.find(h, |&s| self.persons[s as usize] == person).map(|&s| s as usize)
    }

    /// Overwrites the vector of an existing slot.
    pub fn set_vector(&mut self, slot: usize, codes: &[i8], scale: f32) {
        self.codes[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(codes);
        self.scales[slot] = scale;
    }

    pub fn shrink_to_fit(&mut self) {
        self.codes.shrink_to_fit();
        self.scales.shrink_to_fit();
        self.images.shrink_to_fit();
        self.persons.shrink_to_fit();
        self.next.shrink_to_fit();
        self.prev.shrink_to_fit();
        let (images, hasher) = (&self.images, &self.hasher);
        self.image_slots.shrink_to_fit(|&s| hasher.hash_one(images[s as usize]));
        let persons = &self.persons;
        self.person_heads.shrink_to_fit(|&s| hasher.hash_one(persons[s as usize]));
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
        self.codes.extend_from_slice(codes);
        self.scales.push(scale);
        self.images.push(image);
        self.persons.push(person);
        match self.person_head(person) {
            Some(head) => {
                // insert before the head, i.e. at the tail of the circular list
                let tail = self.prev[head] as usize;
                self.next.push(head as u32);
                self.prev.push(tail as u32);
                self.next[tail] = s;
                self.prev[head] = s;
            }
            None => {
                self.next.push(s);
                self.prev.push(s);
                let (persons, hasher) = (&self.persons, &self.hasher);
                self.person_heads.insert_unique(hasher.hash_one(person), s, |&x| hasher.hash_one(persons[x as usize]));
            }
        }
        let (images, hasher) = (&self.images, &self.hasher);
        self.image_slots.insert_unique(hasher.hash_one(image), s, |&x| hasher.hash_one(images[x as usize]));
        Ok(())
    }

    /// Removes a slot (swap-remove, O(1)).
    pub fn remove_slot(&mut self, h: usize) {
        let last = self.len() - 1;
        let h32 = h as u32;
        let image = self.images[h];
        let person = self.persons[h];

        let ih = self.hasher.hash_one(image);
        if let Ok(e) = self.image_slots.find_entry(ih, |&s| s == h32) {
            e.remove();
        }
        let ph = self.hasher.hash_one(person);
        let (nx, pv) = (self.next[h] as usize, self.prev[h] as usize);
        if nx == h {
            if let Ok(e) = self.person_heads.find_entry(ph, |&s| s == h32) {
                e.remove();
            }
        } else {
            self.next[pv] = nx as u32;
            self.prev[nx] = pv as u32;
            if let Some(head) = self.person_heads.find_mut(ph, |&s| s == h32) {
                *head = nx as u32;
            }
        }

        if h != last {
            let dim = self.dim;
            let last32 = last as u32;
            self.codes.copy_within(last * dim..(last + 1) * dim, h * dim);
            self.scales[h] = self.scales[last];
            self.images[h] = self.images[last];
            self.persons[h] = self.persons[last];
            let (ln, lp) = (self.next[last] as usize, self.prev[last] as usize);
            if ln == last {
                self.next[h] = h32;
                self.prev[h] = h32;
            } else {
                self.next[h] = ln as u32;
                self.prev[h] = lp as u32;
                self.next[lp] = h32;
                self.prev[ln] = h32;
            }
            let mh = self.hasher.hash_one(self.images[h]);
            if let Some(s) = self.image_slots.find_mut(mh, |&s| s == last32) {
                *s = h32;
            }
            let mp = self.hasher.hash_one(self.persons[h]);
            if let Some(s) = self.person_heads.find_mut(mp, |&s| s == last32) {
                *s = h32;
            }
        }
        self.codes.truncate(last * self.dim);
        self.scales.truncate(last);
        self.images.truncate(last);
        self.persons.truncate(last);
        self.next.truncate(last);
        self.prev.truncate(last);
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
            + self.codes.capacity()
            + self.scales.capacity() * std::mem::size_of::<f32>()
            + (self.images.capacity() + self.persons.capacity()) * std::mem::size_of::<Uuid>()
            + (self.next.capacity() + self.prev.capacity()) * std::mem::size_of::<u32>()
            + self.image_slots.allocation_size()
            + self.person_heads.allocation_size()
    }

    /// Checks every internal invariant (tests).
    #[cfg(test)]
    pub fn check(&self) {
        let n = self.len();
        assert_eq!(self.codes.len(), n * self.dim);
        for v in [self.images.len(), self.persons.len(), self.next.len(), self.prev.len()] {
            assert_eq!(v, n);
        }
        assert_eq!(self.image_slots.len(), n);
        for slot in 0..n {
            assert_eq!(self.find_image(self.images[slot]), Some(slot));
            assert_eq!(self.prev[self.next[slot] as usize] as usize, slot);
            assert_eq!(self.persons[self.next[slot] as usize], self.persons[slot]);
        }
        let mut seen = 0;
        for &head in &self.person_heads {
            let person = self.persons[head as usize];
            assert_eq!(self.person_head(person), Some(head as usize));
            let mut s = head as usize;
            loop {
                assert_eq!(self.persons[s], person);
                seen += 1;
                s = self.next[s] as usize;
                if s == head as usize {
                    break;
                }
            }
        }
        assert_eq!(seen, n, "person lists cover every slot once");
    }
}
