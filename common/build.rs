// `sqlx::migrate!` embeds the files of `migrations/` at compile time; a new migration file must
// rebuild this crate (as sqlx's documentation recommends).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
