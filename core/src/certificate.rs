//! Certificate credentials: the app proves itself with a short-lived client
//! assertion (a JWT) signed by its private key, which is what Microsoft
//! recommends over client secrets. Nothing secret travels: the identity
//! platform checks the signature against the certificate registered on the app.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// How long an assertion is valid: Microsoft's guidance is 5 to 10 minutes.
const ASSERTION_LIFETIME_SECS: u64 = 600;

/// A certificate and its RSA private key.
#[derive(Clone)]
pub struct ClientCertificate {
    certificate_der: Arc<Vec<u8>>,
    key: Arc<RsaKeyPair>,
}

impl ClientCertificate {
    /// From PEM text: the certificate and the private key may be in one text
    /// or two. The key may be PKCS#8 (`PRIVATE KEY`), PKCS#8 encrypted with a
    /// password (`ENCRYPTED PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`).
    pub fn from_pem(
        certificate_pem: &[u8],
        key_pem: &[u8],
        password: Option<&str>,
    ) -> Result<Self> {
        let certificate = pem_sections(certificate_pem)
            .into_iter()
            .find(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| der)
            .ok_or_else(|| cert_error("no '-----BEGIN CERTIFICATE-----' block found"))?;
        let key = private_key_from_pem(key_pem, password)?;
        ClientCertificate::new(certificate.to_vec(), key)
    }

    /// From a PKCS#12 (`.pfx`, `.p12`) archive and its password.
    pub fn from_pkcs12(archive: &[u8], password: &str) -> Result<Self> {
        let store = p12_keystore::KeyStore::from_pkcs12(archive, password, Default::default())
            .map_err(|e| {
                cert_error(&format!(
                    "cannot open the PKCS#12 archive ({e}); check AZURE_CLIENT_CERTIFICATE_PASSWORD"
                ))
            })?;
        for (_, entry) in store.entries() {
            if let p12_keystore::KeyStoreEntry::PrivateKeyChain(chain) = entry {
                let certificate = chain.certs().first().ok_or_else(|| {
                    cert_error("the PKCS#12 archive has a key but no certificate")
                })?;
                let key = rsa_key_from_pkcs8(chain.key().as_der())?;
                return ClientCertificate::new(certificate.as_der().to_vec(), key);
            }
        }
        Err(cert_error("the PKCS#12 archive holds no private key"))
    }

    /// From a file, as `AZURE_CLIENT_CERTIFICATE_PATH` names it: PEM with the
    /// certificate and the key, or PKCS#12.
    pub fn from_path(path: impl AsRef<Path>, password: Option<&str>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
            Error::config(
                "AZURE_CLIENT_CERTIFICATE_PATH",
                format!("cannot read '{}': {e}", path.display()),
            )
        })?);
        if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            ClientCertificate::from_pem(&bytes, &bytes, password)
        } else {
            ClientCertificate::from_pkcs12(&bytes, password.unwrap_or(""))
        }
    }

    fn new(certificate_der: Vec<u8>, key: RsaKeyPair) -> Result<Self> {
        // The certificate's SubjectPublicKeyInfo wraps the key's PKCS#1 public
        // key verbatim, so finding those bytes proves the two belong together.
        let public = key.public_key().as_ref();
        if !certificate_der.windows(public.len()).any(|w| w == public) {
            return Err(cert_error(
                "the private key does not belong to the certificate",
            ));
        }
        Ok(ClientCertificate {
            certificate_der: Arc::new(certificate_der),
            key: Arc::new(key),
        })
    }

    /// The SHA-1 thumbprint in hex, as the app registration's Certificates &
    /// secrets page shows it.
    pub fn thumbprint(&self) -> String {
        digest(&SHA1_FOR_LEGACY_USE_ONLY, &self.certificate_der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// The SHA-256 thumbprint in hex.
    pub fn thumbprint_sha256(&self) -> String {
        digest(&SHA256, &self.certificate_der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// The certificate in DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// A client assertion for one token request: RS256 with the certificate's
    /// SHA-1 thumbprint as `x5t` (the form the identity platform has accepted
    /// longest), audience the token endpoint, a fresh `jti`, ten minutes valid.
    pub(crate) fn assertion(&self, client_id: &str, token_url: &str) -> Result<Secret> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let x5t = URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, &self.certificate_der));
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": x5t});
        let claims = serde_json::json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| cert_error("the private key could not sign the client assertion"))?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint", &self.thumbprint())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Whether the file at `path` is PEM with a private key anyone who reads
/// the file can use (no password on it). A file that cannot be read answers
/// no: loading the certificate reports that, with its own message.
pub(crate) fn has_unprotected_key(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path).map(Zeroizing::new) else {
        return false;
    };
    pem_sections(&bytes)
        .iter()
        .any(|(label, _)| label.ends_with("PRIVATE KEY") && !label.starts_with("ENCRYPTED "))
}

fn cert_error(message: &str) -> Error {
    Error::config("AZURE_CLIENT_CERTIFICATE_PATH", message.to_owned())
}

/// The PEM blocks of a text: (label, DER). Headers such as `Proc-Type` are
/// kept out of the base64 but remembered in the label for the caller.
fn pem_sections(text: &[u8]) -> Vec<(String, Zeroizing<Vec<u8>>)> {
    let text = String::from_utf8_lossy(text);
    let mut sections = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let mut body = Zeroizing::new(String::new());
        let mut encrypted_legacy = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line.starts_with("-----END ") {
                break;
            }
            if line.contains(':') {
                encrypted_legacy |= line.starts_with("Proc-Type") && line.contains("ENCRYPTED");
                continue;
            }
            body.push_str(line);
        }
        let label = if encrypted_legacy {
            format!("{label} (legacy encrypted)")
        } else {
            label.to_owned()
        };
        if let Ok(der) = STANDARD.decode(body.as_bytes()) {
            sections.push((label, Zeroizing::new(der)));
        }
    }
    sections
}

fn private_key_from_pem(pem: &[u8], password: Option<&str>) -> Result<RsaKeyPair> {
    for (label, der) in pem_sections(pem) {
        match label.as_str() {
            "PRIVATE KEY" => return rsa_key_from_pkcs8(&der),
            "RSA PRIVATE KEY" => {
                return RsaKeyPair::from_der(&der)
                    .map_err(|e| cert_error(&format!("the RSA private key cannot be read: {e}")));
            }
            "ENCRYPTED PRIVATE KEY" => {
                let password = password.ok_or_else(|| {
                    Error::config(
                        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                        "the private key is encrypted: give its password",
                    )
                })?;
                let encrypted = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
                    .map_err(|e| {
                        cert_error(&format!("the encrypted private key cannot be read: {e}"))
                    })?;
                let decrypted = encrypted.decrypt(password).map_err(|_| {
                    Error::config(
                        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
                        "cannot decrypt the private key: the password is wrong, or the encryption is not PBES2",
                    )
                })?;
                return rsa_key_from_pkcs8(decrypted.as_bytes());
            }
            "RSA PRIVATE KEY (legacy encrypted)" => {
                return Err(cert_error(
                    "the key uses OpenSSL's legacy PEM encryption; convert it with \
                     'openssl pkcs8 -topk8 -in key.pem -out key-pkcs8.pem' (PKCS#8, encrypted or not)",
                ));
            }
            "EC PRIVATE KEY" => return Err(not_rsa()),
            _ => {}
        }
    }
    Err(cert_error(
        "no private key block ('-----BEGIN PRIVATE KEY-----') found",
    ))
}

fn rsa_key_from_pkcs8(der: &[u8]) -> Result<RsaKeyPair> {
    RsaKeyPair::from_pkcs8(der).map_err(|_| not_rsa())
}

fn not_rsa() -> Error {
    cert_error(
        "the private key is not an RSA key: Microsoft Entra accepts RSA certificates for client assertions",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    fn openssl(args: &[&str], dir: &Path) {
        let ok = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }

    /// A throw-away certificate in every form a user may hold, in a folder
    /// removed when the returned value is dropped.
    fn fixtures() -> tempfile::TempDir {
        let folder = tempfile::Builder::new()
            .prefix("gm-cert-")
            .tempdir()
            .unwrap();
        let dir = folder.path();
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=graphmailer-test",
            ],
            dir,
        );
        openssl(
            &[
                "pkcs8",
                "-topk8",
                "-in",
                "key.pem",
                "-out",
                "key-enc.pem",
                "-passout",
                "pass:s3cret",
                "-v2",
                "aes-256-cbc",
            ],
            dir,
        );
        openssl(
            &[
                "rsa",
                "-in",
                "key.pem",
                "-out",
                "key-rsa.pem",
                "-traditional",
            ],
            dir,
        );
        openssl(
            &[
                "pkcs12",
                "-export",
                "-in",
                "cert.pem",
                "-inkey",
                "key.pem",
                "-out",
                "cert.pfx",
                "-passout",
                "pass:pfx-pass",
            ],
            dir,
        );
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "other-key.pem",
                "-out",
                "other.pem",
                "-days",
                "2",
                "-subj",
                "/CN=other",
            ],
            dir,
        );
        folder
    }

    #[test]
    fn every_form_loads_and_signs_a_verifiable_assertion() {
        let fixtures = fixtures();
        let dir = fixtures.path();
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let plain = ClientCertificate::from_pem(&read("cert.pem"), &read("key.pem"), None).unwrap();
        let forms = [
            ClientCertificate::from_pem(&read("cert.pem"), &read("key-enc.pem"), Some("s3cret"))
                .unwrap(),
            ClientCertificate::from_pem(&read("cert.pem"), &read("key-rsa.pem"), None).unwrap(),
            ClientCertificate::from_pkcs12(&read("cert.pfx"), "pfx-pass").unwrap(),
            ClientCertificate::from_path(dir.join("cert.pfx"), Some("pfx-pass")).unwrap(),
        ];
        for c in &forms {
            assert_eq!(c.thumbprint(), plain.thumbprint());
        }
        let url = "https://login.example/tenant/oauth2/v2.0/token";
        let jwt = plain.assertion("client-id", url).unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(header["x5t"].as_str().unwrap())
                .unwrap()
                .len(),
            20
        );
        assert_eq!(claims["aud"], url);
        assert_eq!(claims["iss"], "client-id");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["nbf"].as_u64().unwrap(),
            600
        );
        let public = UnparsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            plain.key.public_key().as_ref().to_vec(),
        );
        public
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
        let second = plain.assertion("client-id", url).unwrap();
        assert_ne!(jwt.expose(), second.expose(), "a fresh jti each time");
        assert!(!format!("{plain:?}").contains("PRIVATE"));
    }

    #[test]
    fn mistakes_name_the_setting() {
        let fixtures = fixtures();
        let dir = fixtures.path();
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let e = ClientCertificate::from_pem(&read("cert.pem"), &read("key-enc.pem"), Some("wrong"))
            .unwrap_err();
        assert_eq!(e.field(), Some("AZURE_CLIENT_CERTIFICATE_PASSWORD"));
        let e =
            ClientCertificate::from_pem(&read("cert.pem"), &read("key-enc.pem"), None).unwrap_err();
        assert_eq!(e.field(), Some("AZURE_CLIENT_CERTIFICATE_PASSWORD"));
        let e = ClientCertificate::from_pem(&read("cert.pem"), &read("other-key.pem"), None)
            .unwrap_err();
        assert!(e.message().contains("does not belong"), "{e}");
        let e = ClientCertificate::from_pkcs12(&read("cert.pfx"), "wrong").unwrap_err();
        assert!(e.message().contains("PASSWORD"), "{e}");
        let e = ClientCertificate::from_path(dir.join("missing.pem"), None).unwrap_err();
        assert_eq!(e.field(), Some("AZURE_CLIENT_CERTIFICATE_PATH"));
    }
}
