//! Passes `--cfg loom` on to rustdoc: cargo gives `RUSTFLAGS` to rustc but not to the
//! rustdoc that compiles doctests, which then link the loom-built library. With the cfg,
//! examples switch to `no_run` (compiled, not run) in a loom build, since loom primitives
//! can only be used inside `loom::model`.
fn main() {
    println!("cargo::rerun-if-env-changed=CARGO_CFG_LOOM");
    if std::env::var_os("CARGO_CFG_LOOM").is_some() {
        println!("cargo::rustc-cfg=loom");
    }
}
