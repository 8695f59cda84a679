//! The shell examples in the project's README and in `cli/README.md` only
//! use subcommands and options that exist: each `graphmailer <subcommand>`
//! line is checked against that subcommand's `--help`, and each script a
//! line runs must be in the repository. (Running them would need a tenant.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_graphmailer");

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The commands in a markdown file's `sh` blocks, continuation lines joined
/// and comments dropped.
fn shell_commands(markdown: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut current = String::new();
    for line in markdown.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_block = !in_block && matches!(trimmed, "```sh" | "```bash" | "```shell");
            continue;
        }
        if !in_block || trimmed.starts_with('#') {
            continue;
        }
        let line = trimmed.split(" #").next().unwrap().trim_end();
        match line.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                if !current.trim().is_empty() {
                    commands.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    commands
}

/// Splits on spaces outside single or double quotes, dropping the quotes.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, ' ') => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            (None, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// For each `graphmailer <subcommand> ...` (or `cargo run -p graphmailer-cli
/// -- <subcommand>`) in the commands: the options it uses.
fn uses(commands: &[String]) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for command in commands {
        let words = words(command);
        for (i, word) in words.iter().enumerate() {
            let sub = match word.as_str() {
                "graphmailer" => words.get(i + 1),
                "--" if i >= 1 && words[..i].contains(&"graphmailer-cli".to_owned()) => {
                    words.get(i + 1)
                }
                _ => None,
            };
            let Some(sub) = sub else { continue };
            let options = words[i + 2..]
                .iter()
                .take_while(|w| !["|", ">", ";", "&&", "<"].contains(&w.as_str()))
                .filter(|w| w.starts_with('-') && w.len() > 1 && *w != "--")
                .map(|w| w.split('=').next().unwrap().to_owned())
                .collect();
            found.push((sub.clone(), options));
        }
    }
    found
}

fn help(subcommand: &str) -> String {
    let out = Command::new(BIN)
        .args([subcommand, "--help"])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "graphmailer {subcommand} --help failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `help` documents `option` (`--to`, or a short `-i`, possibly
/// written glued to its value as sendmail's `-FName`).
fn documents(help: &str, option: &str) -> bool {
    let candidates: Vec<&str> = if option.starts_with("--") {
        vec![option]
    } else {
        vec![option, &option[..2]]
    };
    candidates.iter().any(|o| {
        help.match_indices(o).any(|(at, _)| {
            let before = help[..at].chars().last();
            let after = help[at + o.len()..].chars().next();
            before.is_none_or(|c| c.is_whitespace() || c == '[' || c == ',')
                && after.is_none_or(|c| !c.is_alphanumeric() && c != '-')
        })
    })
}

fn check(file: &str, minimum: usize) {
    let text = std::fs::read_to_string(repository().join(file)).unwrap();
    let commands = shell_commands(&text);
    let uses = uses(&commands);
    assert!(
        uses.len() >= minimum,
        "{file}: expected at least {minimum} graphmailer commands, found {uses:?}"
    );
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    for (sub, options) in &uses {
        let help = helps.entry(sub.clone()).or_insert_with(|| help(sub));
        for option in options {
            assert!(
                documents(help, option),
                "{file}: `graphmailer {sub}` has no option {option}:\n{help}"
            );
        }
    }
    // Scripts the examples run exist.
    for command in &commands {
        let first = words(command).into_iter().find(|w| !w.contains('='));
        if let Some(path) = first.filter(|w| w.contains('/') && !w.starts_with('/')) {
            assert!(
                repository().join(&path).exists(),
                "{file}: {path} is not in the repository"
            );
        }
    }
}

#[test]
fn the_project_readme_uses_only_existing_options() {
    check("README.md", 10);
}

#[test]
fn the_cli_readme_uses_only_existing_options() {
    check("cli/README.md", 8);
}

#[test]
fn an_unknown_option_is_caught() {
    let commands =
        shell_commands("```sh\ngraphmailer send --from a@b.c \\\n  --too x # note\n```\n");
    assert_eq!(commands, ["graphmailer send --from a@b.c --too x"]);
    let uses = uses(&commands);
    assert_eq!(
        uses,
        [(
            "send".to_owned(),
            vec!["--from".to_owned(), "--too".to_owned()]
        )]
    );
    let send = help("send");
    assert!(documents(&send, "--from"));
    assert!(!documents(&send, "--too"));
    assert!(documents(&help("sendmail"), "-FCron"));
}
