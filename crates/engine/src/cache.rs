//! A small cache of decoded media, keyed by stored file name. An upload is decoded once to check
//! it; the analyses that follow (QUALITY and BIOMETRY usually run right after, in parallel) reuse
//! those frames instead of decoding the video again. Bounded by entry count, oldest out first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use oz_vision::media::DecodedMedia;

#[derive(Debug)]
pub struct DecodeCache {
    cap: usize,
    entries: Mutex<VecDeque<(String, Arc<DecodedMedia>)>>,
}

impl DecodeCache {
    #[must_use]
    pub fn new(cap: usize) -> Self {
        Self { cap, entries: Mutex::new(VecDeque::new()) }
    }

    pub fn put(&self, file_name: &str, media: Arc<DecodedMedia>) {
        if self.cap == 0 {
            return;
        }
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|(k, _)| k != file_name);
            e.push_back((file_name.to_string(), media));
            while e.len() > self.cap {
                e.pop_front();
            }
        }
    }

    #[must_use]
    pub fn get(&self, file_name: &str) -> Option<Arc<DecodedMedia>> {
        self.entries.lock().ok()?.iter().find(|(k, _)| k == file_name).map(|(_, m)| Arc::clone(m))
    }

    pub fn forget(&self, file_name: &str) {
        if let Ok(mut e) = self.entries.lock() {
            e.retain(|(k, _)| k != file_name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oz_vision::media::{MediaInfo, MediaKind};

    fn media(w: u32) -> Arc<DecodedMedia> {
        Arc::new(DecodedMedia {
            info: MediaInfo {
                kind: MediaKind::Image,
                mime_type: "image/png".into(),
                size: 1,
                md5: String::new(),
                width: w,
                height: 1,
                video: None,
                shots: None,
            },
            frames: Vec::new(),
        })
    }

    #[test]
    fn bounded_and_oldest_out() {
        let c = DecodeCache::new(2);
        c.put("a", media(1));
        c.put("b", media(2));
        c.put("c", media(3));
        assert!(c.get("a").is_none());
        assert_eq!(c.get("c").map(|m| m.info.width), Some(3));
        c.forget("c");
        assert!(c.get("c").is_none());
        let off = DecodeCache::new(0);
        off.put("a", media(1));
        assert!(off.get("a").is_none());
    }
}
