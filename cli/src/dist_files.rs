//! `graphmailer dist-files DIR` (not in the help): writes the man pages and
//! shell completions the release packages install. They are made from the
//! same clap definitions the binary parses with, so they cannot drift from it.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// `out`: the directory to write `man/` and `completions/` into.
pub fn run(out: Option<&OsString>) -> ExitCode {
    let Some(out) = out else {
        eprintln!("usage: graphmailer dist-files DIR");
        return ExitCode::from(2);
    };
    let out = Path::new(out);
    match write(out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing into {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn write(out: &Path) -> std::io::Result<()> {
    let man = out.join("man");
    let completions = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    // One page for the command and one per subcommand (graphmailer-send.1, ...).
    clap_mangen::generate_to(crate::Cli::command(), &man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(
            shell,
            &mut crate::Cli::command(),
            "graphmailer",
            &completions,
        )?;
    }
    Ok(())
}
