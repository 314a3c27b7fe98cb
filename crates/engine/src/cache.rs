//! A small cache of decoded media, keyed by stored file name. An upload is decoded once to check
//! it; the analyses that follow (QUALITY and BIOMETRY usually run right after, in parallel) reuse
//! those frames instead of decoding the video again. Bounded by the bytes of the cached frames
//! (`OZ_DECODE_CACHE_BYTES`) and by an entry count (`OZ_DECODE_CACHE`), oldest out first. Cached
//! frames keep their decode budget reservation, so they count in `OZ_DECODE_BUDGET_BYTES` too.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use oz_vision::media::DecodedMedia;

#[derive(Debug)]
pub struct DecodeCache {
    cap_entries: usize,
    cap_bytes: u64,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    list: VecDeque<(String, Arc<DecodedMedia>, u64)>,
    bytes: u64,
}

impl Entries {
    fn remove(&mut self, file_name: &str) {
        let mut freed = 0;
        self.list.retain(|(k, _, b)| {
            let keep = k != file_name;
            if !keep {
                freed += b;
            }
            keep
        });
        self.bytes -= freed;
    }
}

impl DecodeCache {
    /// At most `cap_entries` media and `cap_bytes` bytes of frames (either 0 = off).
    #[must_use]
    pub fn new(cap_entries: usize, cap_bytes: u64) -> Self {
        Self { cap_entries, cap_bytes, entries: Mutex::new(Entries::default()) }
    }

    /// Bytes of frames this cache may hold.
    #[must_use]
    pub fn cap_bytes(&self) -> u64 {
        if self.cap_entries == 0 { 0 } else { self.cap_bytes }
    }

    /// Bytes of frames held now.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.entries.lock().map_or(0, |e| e.bytes)
    }

    /// Keeps `media` (a media larger than the whole cache is not kept).
    pub fn put(&self, file_name: &str, media: Arc<DecodedMedia>) {
        let size = media.frame_bytes();
        if self.cap_entries == 0 || size > self.cap_bytes {
            return;
        }
        if let Ok(mut e) = self.entries.lock() {
            e.remove(file_name);
            e.list.push_back((file_name.to_string(), media, size));
            e.bytes += size;
            while e.list.len() > self.cap_entries || e.bytes > self.cap_bytes {
                match e.list.pop_front() {
                    Some((_, _, b)) => e.bytes -= b,
                    None => break,
                }
            }
        }
    }

    #[must_use]
    pub fn get(&self, file_name: &str) -> Option<Arc<DecodedMedia>> {
        let found =
            self.entries.lock().ok()?.list.iter().find(|(k, _, _)| k == file_name).map(|(_, m, _)| Arc::clone(m));
        crate::observe::decode_cache(found.is_some());
        found
    }

    pub fn forget(&self, file_name: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.remove(file_name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oz_vision::media::{Frame, MediaInfo, MediaKind};

    /// A media of one `w x 1` frame: `3 * w` bytes.
    fn media(w: u32) -> Arc<DecodedMedia> {
        let info = MediaInfo {
            kind: MediaKind::Image,
            mime_type: "image/png".into(),
            size: 1,
            md5: String::new(),
            width: w,
            height: 1,
            video: None,
            shots: None,
        };
        let frame =
            Frame { index: 0, timestamp_s: None, name: None, image: image::RgbImage::new(w, 1), candidate: false };
        Arc::new(DecodedMedia::untracked(info, vec![frame]))
    }

    #[test]
    fn bounded_by_entries_and_oldest_out() {
        let c = DecodeCache::new(2, u64::MAX);
        c.put("a", media(1));
        c.put("b", media(2));
        c.put("c", media(3));
        assert!(c.get("a").is_none());
        assert_eq!(c.get("c").map(|m| m.info.width), Some(3));
        c.forget("c");
        assert!(c.get("c").is_none());
        assert_eq!(c.bytes(), 6);
        let off = DecodeCache::new(0, u64::MAX);
        off.put("a", media(1));
        assert!(off.get("a").is_none());
        assert_eq!(off.cap_bytes(), 0);
    }

    #[test]
    fn bounded_by_bytes() {
        // 30 bytes: room for a 10-byte-wide (30 B) media, or two 5-wide (15 B) ones.
        let c = DecodeCache::new(100, 30);
        c.put("a", media(5));
        c.put("b", media(5));
        assert_eq!(c.bytes(), 30);
        c.put("c", media(4));
        assert!(c.get("a").is_none(), "oldest out to make room");
        assert!(c.get("b").is_some() && c.get("c").is_some());
        assert_eq!(c.bytes(), 27);
        c.put("huge", media(11));
        assert!(c.get("huge").is_none(), "larger than the whole cache: not kept");
        assert!(c.get("b").is_some(), "and nothing evicted for it");
        c.put("b", media(1));
        assert_eq!(c.bytes(), 15, "replacing an entry counts its new size only");
        c.forget("b");
        c.forget("c");
        assert_eq!(c.bytes(), 0);
    }
}
