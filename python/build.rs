//! Lets `cargo test` run this crate's Rust tests: without the rpath they
//! would load the system's libpython instead of the interpreter PyO3 was
//! configured for. A no-op under maturin, which builds an extension module.
fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
}
