//! Files that hold a secret must be private, as ssh and msmtp insist: a
//! client secret in a file every local user can read is a secret every local
//! user has. Group read stays allowed, because the documented setup shares
//! the file with a `mailsend` group (0640 root:mailsend).

use std::path::Path;

use crate::error::{Error, Result};

/// Refuses `path` when others may read it or anyone but its owner may change
/// it. `holds` says what secret the file holds, for the message
/// (`client_secret`, `the relay's password hashes`). `field` is the setting
/// the error names. Does nothing where files have no Unix mode.
pub fn ensure_private(path: &Path, field: &str, holds: &str) -> Result<()> {
    if let Some(mode) = mode_of(path, field)? {
        if let Some(problem) = exposure(mode) {
            return Err(refusal(path, field, holds, mode, problem));
        }
    }
    Ok(())
}

/// Refuses a file that its group or other users can change, whatever it
/// holds: a configuration names where credentials and tokens are sent (the
/// authority host, Graph's endpoint, the CA bundle, an identity endpoint),
/// so whoever can change it can have them sent to a server of theirs.
pub fn ensure_unchangeable(path: &Path, field: &str) -> Result<()> {
    if let Some(mode) = mode_of(path, field)? {
        if mode & 0o022 != 0 {
            let file = path.display();
            return Err(Error::config(
                field,
                format!(
                    "'{file}' has mode {mode:04o}: others can change it, and with it where graphmailer sends its credentials, so it is not used"
                ),
            )
            .with_hint(format!(
                "let only its owner change it: run 'chmod go-w {file}' (640, or 644 when it holds no secret)"
            )));
        }
    }
    Ok(())
}

/// The file's permission bits; `None` where files have no Unix mode.
fn mode_of(path: &Path, field: &str) -> Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = std::fs::metadata(path)
            .map_err(|e| Error::config(field, format!("cannot read '{}': {e}", path.display())))?;
        Ok(Some(metadata.permissions().mode() & 0o7777))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, field);
        Ok(None)
    }
}

/// What is wrong with a file mode for a secret, if anything.
fn exposure(mode: u32) -> Option<&'static str> {
    if mode & 0o007 != 0 {
        Some("other local users can read or change it")
    } else if mode & 0o020 != 0 {
        Some("its group can change it")
    } else {
        None
    }
}

fn refusal(path: &Path, field: &str, holds: &str, mode: u32, problem: &str) -> Error {
    let file = path.display();
    Error::config(
        field,
        format!("'{file}' holds {holds} but has mode {mode:04o}: {problem}, so it is not used"),
    )
    .with_hint(format!(
        "make the file private: run 'chmod 640 {file}' and 'chown root:mailsend {file}' so \
         only root and the mailsend group can read it (or 'chmod 600 {file}' when one user \
         runs graphmailer)"
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn modes_that_expose_a_secret_are_named() {
        assert!(exposure(0o600).is_none());
        assert!(exposure(0o640).is_none());
        assert!(exposure(0o400).is_none());
        assert!(exposure(0o644).is_some());
        assert!(exposure(0o604).is_some());
        assert!(exposure(0o602).is_some());
        assert!(exposure(0o660).is_some());
    }

    #[test]
    fn refusal_names_file_mode_and_the_command() {
        let dir = std::env::temp_dir().join(format!("gm-private-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret.toml");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = ensure_private(&path, "config file", "client_secret").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.field(), Some("config file"));
        assert!(e.message().contains(&path.display().to_string()));
        assert!(e.message().contains("0644"), "{}", e.message());
        let hint = e.hint().unwrap();
        assert!(
            hint.contains(&format!("chmod 640 {}", path.display())),
            "{hint}"
        );
        assert!(hint.contains("chown root:mailsend"), "{hint}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        ensure_private(&path, "config file", "client_secret").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_others_can_change_is_refused_whatever_it_holds() {
        let dir = std::env::temp_dir().join(format!("gm-unchangeable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("graphmailer.toml");
        std::fs::write(&path, "x").unwrap();
        for mode in [0o666, 0o664, 0o646] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = ensure_unchangeable(&path, "config file").unwrap_err();
            assert_eq!(e.field(), Some("config file"));
            assert!(
                e.message().contains(&format!("{mode:04o}")),
                "{}",
                e.message()
            );
            assert!(e.hint().unwrap().contains("chmod go-w"));
        }
        for mode in [0o644, 0o640, 0o600] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            ensure_unchangeable(&path, "config file").unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
