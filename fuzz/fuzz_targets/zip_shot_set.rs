#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| openoz_fuzz::vision::zip_shot_set(data));
