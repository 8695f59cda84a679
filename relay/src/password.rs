//! Password hashes for relay users: argon2id in PHC form, so the file holds
//! nothing that logs a device in elsewhere, and guessing is slow.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use graphmailer::{Error, Result};
use rand::RngCore;

/// Hashes a password with argon2id's default parameters and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    if password.is_empty() {
        return Err(Error::invalid("password", "is empty"));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| Error::invalid("password", format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::invalid("password", format!("cannot be hashed: {e}")))
}

/// A random password of 16 URL-safe characters (96 bits).
pub fn random_password() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// True when `password` matches `hash`. Slow on purpose (tens of
/// milliseconds): call it off the async threads.
pub fn verify_password(password: &[u8], hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(password, &parsed).is_ok())
}

/// Refuses a configured hash that no password could match, so a typo shows
/// at start instead of as a user who can never log in.
pub fn check_hash_format(hash: &str) -> Result<()> {
    let parsed = PasswordHash::new(hash).map_err(|e| {
        Error::config(
            "password_hash",
            format!("is not a PHC string ({e}): make one with `graphmailer relay hash-password`"),
        )
    })?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(Error::config(
            "password_hash",
            "is not an argon2 hash: make one with `graphmailer relay hash-password`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        check_hash_format(&hash).unwrap();
        assert!(verify_password(b"correct horse", &hash));
        assert!(!verify_password(b"correct hors", &hash));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
    }

    #[test]
    fn a_malformed_hash_is_refused() {
        assert!(check_hash_format("plain-text").is_err());
        assert!(check_hash_format("$2b$12$abcdefghijklmnopqrstuv").is_err());
        assert!(!verify_password(b"x", "plain-text"));
    }
}
