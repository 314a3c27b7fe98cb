//! Rebuilds the crate when anything under `console/` changes, new files included: the console's
//! files are compiled in by `rust-embed`, which tracks only the files it saw last time.
fn main() {
    println!("cargo:rerun-if-changed=console");
}
