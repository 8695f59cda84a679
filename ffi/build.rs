//! Generates `graphmailer.h` into `OUT_DIR` with cbindgen on every build (the
//! header-drift test compares it with the checked-in `include/graphmailer.h`),
//! and gives the shared library its soname on Linux.

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cannot read cbindgen.toml: {e}"));
    // `with_src` follows `mod` declarations without running `cargo metadata`.
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen cannot generate graphmailer.h: {e}"))
        .write_to_file(out_dir.join("graphmailer.h"));
    // Regenerating the checked-in copy is explicit, so a build never edits the
    // source tree behind anyone's back.
    println!("cargo:rerun-if-env-changed=GRAPHMAILER_UPDATE_HEADER");
    if std::env::var_os("GRAPHMAILER_UPDATE_HEADER").is_some_and(|v| v == "1") {
        std::fs::copy(
            out_dir.join("graphmailer.h"),
            crate_dir.join("include/graphmailer.h"),
        )
        .unwrap_or_else(|e| panic!("cannot update include/graphmailer.h: {e}"));
    }

    // cargo-c's convention: libgraphmailer.so.MAJOR, or .so.0.MINOR while the
    // major version is 0 (every 0.x minor may change the ABI).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
        let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
        let soname = if major == "0" {
            format!("libgraphmailer.so.0.{minor}")
        } else {
            format!("libgraphmailer.so.{major}")
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    }
}
