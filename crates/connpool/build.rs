//! Hands `--cfg loom` on to rustdoc as well.
//!
//! Cargo passes `RUSTFLAGS` to rustc but not to the rustdoc that collects and builds doctests,
//! and those link the loom-built library, which has only the counters (see `src/lib.rs`). With
//! the cfg rustdoc skips the same modules rustc does, so their examples are not collected in a
//! loom build. Normal builds are unaffected.
fn main() {
    println!("cargo::rerun-if-env-changed=CARGO_CFG_LOOM");
    if std::env::var_os("CARGO_CFG_LOOM").is_some() {
        println!("cargo::rustc-cfg=loom");
    }
}
