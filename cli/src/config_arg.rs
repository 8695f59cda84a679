//! `--config`, shared by every command that talks to Microsoft.

use std::path::PathBuf;

use graphmailer::{Config, Result};

#[derive(clap::Args)]
pub struct ConfigArg {
    /// Configuration file (TOML); otherwise GRAPHMAILER_CONFIG, otherwise the environment.
    #[arg(long, env = "GRAPHMAILER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    pub fn load(&self) -> Result<Config> {
        match &self.config {
            Some(path) => Config::from_file(path),
            None => Config::from_env(),
        }
    }
}
