//! Hands `--cfg loom` on to rustdoc as well.
//!
//! Cargo passes `RUSTFLAGS` to rustc but not to the rustdoc that collects and runs doctests,
//! and those link the loom-built library, which has only the counters (see `src/lib.rs`). With
//! the cfg, rustdoc leaves out the same modules (and the README examples) that rustc does.
fn main() {
    println!("cargo::rerun-if-env-changed=CARGO_CFG_LOOM");
    if std::env::var_os("CARGO_CFG_LOOM").is_some() {
        println!("cargo::rustc-cfg=loom");
    }
}
