//! `graphmailer dist-files DIR`: the man pages and completions the Debian
//! package installs, made from the command's own definitions.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_graphmailer");

#[test]
fn writes_a_page_per_command_and_completions_for_three_shells() {
    let dir = std::env::temp_dir().join(format!("gm-dist-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(BIN)
        .arg("dist-files")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let man = std::fs::read_to_string(dir.join("man/graphmailer-send.1")).unwrap();
    assert!(
        man.contains("\\-\\-subject"),
        "send's page lists its options"
    );
    for page in [
        "graphmailer.1",
        "graphmailer-queue-run.1",
        "graphmailer-sendmail.1",
    ] {
        assert!(dir.join("man").join(page).is_file(), "{page}");
    }
    // The packaging command itself stays out of the pages and completions.
    assert!(!dir.join("man/graphmailer-dist-files.1").exists());
    let bash = std::fs::read_to_string(dir.join("completions/graphmailer.bash")).unwrap();
    assert!(bash.contains("doctor") && !bash.contains("dist-files"));
    assert!(dir.join("completions/_graphmailer").is_file());
    assert!(dir.join("completions/graphmailer.fish").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn help_does_not_list_it() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("doctor") && !help.contains("dist-files"));
}
