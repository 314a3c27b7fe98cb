#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| openoz_fuzz::http::api_payload(data));
