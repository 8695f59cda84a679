//! The command line's integration tests in one binary: one link instead of
//! one per file.

#[path = "../common/mod.rs"]
mod common;
#[path = "../emulator_process/mod.rs"]
mod emulator_process;

mod cli;
mod dist_files;
mod doctor_credentials;
mod queue;
mod readme;
mod relay_crash;
mod relay_demo;
mod send;
mod sendmail;
