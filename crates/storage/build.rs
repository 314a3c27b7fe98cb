//! `sqlx::migrate!` embeds the migration files at compile time; rebuild when one is added or
//! changed (what `sqlx migrate build-script` writes).
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
