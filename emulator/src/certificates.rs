//! Certificates registered on an app (its "key credentials"): what the
//! token endpoint needs to check a client assertion. Only the public side
//! is ever held: the DER, its thumbprints, validity and RSA public key.
//!
//! The X.509 reading is deliberately small: walk the DER to the validity
//! and the subject public key, nothing more. The signature of the
//! certificate itself is not checked, as Entra does not check it either
//! (self-signed certificates are the common case).

use std::fmt;

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A certificate registered on an app.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    spki: Vec<u8>,
    /// base64url of the SHA-1 digest of the DER (a JWT header's `x5t`).
    pub thumbprint: String,
    /// base64url of the SHA-256 digest of the DER (`x5t#S256`).
    pub thumbprint_sha256: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl Certificate {
    /// Reads one DER certificate; it must carry an RSA key of 2048 to 8192
    /// bits, the only kind Entra accepts for client assertions.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let parsed = parse_x509(der)?;
        ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &parsed.spki).map_err(|_| {
            "the certificate's key is not an RSA key of 2048 to 8192 bits; Microsoft Entra accepts RSA certificates for client assertions".to_owned()
        })?;
        Ok(Certificate {
            thumbprint: URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, der)),
            thumbprint_sha256: URL_SAFE_NO_PAD.encode(digest(&SHA256, der)),
            not_before: parsed.not_before,
            not_after: parsed.not_after,
            spki: parsed.spki,
            der: der.to_vec(),
        })
    }

    /// Every `CERTIFICATE` block of a PEM text (at least one).
    pub fn all_from_pem(text: &str) -> Result<Vec<Self>, String> {
        let blocks = pem_blocks(text, "CERTIFICATE")?;
        if blocks.is_empty() {
            return Err("no '-----BEGIN CERTIFICATE-----' block found".into());
        }
        blocks.iter().map(|der| Self::from_der(der)).collect()
    }

    /// A PEM text, or base64 of the DER (what the portal's manifest shows
    /// as a key credential's `value`).
    pub fn all_from_text(text: &str) -> Result<Vec<Self>, String> {
        if text.contains("-----BEGIN") {
            return Self::all_from_pem(text);
        }
        let compact: String = text.split_whitespace().collect();
        let der = STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| "neither a PEM certificate nor base64 of a DER certificate".to_owned())?;
        Ok(vec![Self::from_der(&der)?])
    }

    /// The SHA-1 thumbprint in upper-case hex, as the Azure portal shows it.
    pub fn thumbprint_hex(&self) -> String {
        digest(&SHA1_FOR_LEGACY_USE_ONLY, &self.der)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// The DER-encoded SubjectPublicKeyInfo.
    pub(crate) fn public_key_der(&self) -> &[u8] {
        &self.spki
    }

    /// Whether `x5t` (or `x5t#S256` when `sha256`) names this certificate.
    /// Padding and the standard alphabet are tolerated, as some clients
    /// send them.
    pub(crate) fn matches(&self, thumbprint: &str, sha256: bool) -> bool {
        let wanted = if sha256 {
            &self.thumbprint_sha256
        } else {
            &self.thumbprint
        };
        let normalised: String = thumbprint
            .trim()
            .trim_end_matches('=')
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        normalised == *wanted
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("thumbprint", &self.thumbprint)
            .field("thumbprint_sha256", &self.thumbprint_sha256)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish()
    }
}

impl Serialize for Certificate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Certificate", 5)?;
        s.serialize_field("thumbprint", &self.thumbprint)?;
        s.serialize_field("thumbprint_sha256", &self.thumbprint_sha256)?;
        s.serialize_field("thumbprint_hex", &self.thumbprint_hex())?;
        s.serialize_field("not_before", &self.not_before.format(&Rfc3339).ok())?;
        s.serialize_field("not_after", &self.not_after.format(&Rfc3339).ok())?;
        s.end()
    }
}

/// The DER of every `label` block in a PEM text.
fn pem_blocks(text: &str, label: &str) -> Result<Vec<Vec<u8>>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start + begin.len()..];
        let stop = after
            .find(&end)
            .ok_or_else(|| format!("'{begin}' without '{end}'"))?;
        let body: String = after[..stop].split_whitespace().collect();
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|e| format!("a {label} block is not valid base64: {e}"))?;
        blocks.push(der);
        rest = &after[stop + end.len()..];
    }
    Ok(blocks)
}

struct X509Parts {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    spki: Vec<u8>,
}

/// One DER element: tag, content, and the whole element's bytes.
struct Element<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

fn read_element(input: &[u8]) -> Result<(Element<'_>, &[u8]), String> {
    let bad = || "the certificate is not valid DER".to_owned();
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    let (&first, mut rest) = rest.split_first().ok_or_else(bad)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(bad());
        }
        let mut len = 0usize;
        for &b in &rest[..count] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[count..];
        len
    };
    if rest.len() < len {
        return Err(bad());
    }
    let header_len = input.len() - rest.len();
    Ok((
        Element {
            tag,
            content: &rest[..len],
            whole: &input[..header_len + len],
        },
        &rest[len..],
    ))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(Element<'a>, &'a [u8]), String> {
    let (element, rest) = read_element(input)?;
    if element.tag != tag {
        return Err(format!(
            "the certificate's DER has no {what} where expected"
        ));
    }
    Ok((element, rest))
}

const SEQUENCE: u8 = 0x30;

fn parse_x509(der: &[u8]) -> Result<X509Parts, String> {
    let (certificate, trailing) = expect(der, SEQUENCE, "Certificate")?;
    if !trailing.is_empty() {
        return Err("bytes after the certificate".into());
    }
    let (tbs, _) = expect(certificate.content, SEQUENCE, "TBSCertificate")?;
    let mut rest = tbs.content;
    // [0] EXPLICIT version, optional.
    if rest.first() == Some(&0xa0) {
        rest = read_element(rest)?.1;
    }
    rest = read_element(rest)?.1; // serialNumber
    rest = expect(rest, SEQUENCE, "signature algorithm")?.1;
    rest = expect(rest, SEQUENCE, "issuer")?.1;
    let (validity, after_validity) = expect(rest, SEQUENCE, "validity")?;
    let (not_before, validity_rest) = read_element(validity.content)?;
    let (not_after, _) = read_element(validity_rest)?;
    rest = expect(after_validity, SEQUENCE, "subject")?.1;
    let (spki, _) = expect(rest, SEQUENCE, "subject public key")?;
    Ok(X509Parts {
        not_before: parse_time(&not_before)?,
        not_after: parse_time(&not_after)?,
        spki: spki.whole.to_vec(),
    })
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(element: &Element<'_>) -> Result<OffsetDateTime, String> {
    let bad = || "the certificate's validity dates cannot be read".to_owned();
    let text = std::str::from_utf8(element.content).map_err(|_| bad())?;
    let digits = text.strip_suffix('Z').ok_or_else(bad)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (year, rest) = match (element.tag, digits.len()) {
        (0x17, 12) => {
            let yy: i32 = digits[..2].parse().map_err(|_| bad())?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        (0x18, 14) => (digits[..4].parse().map_err(|_| bad())?, &digits[4..]),
        _ => return Err(bad()),
    };
    let num = |range: std::ops::Range<usize>| rest[range].parse::<u8>().map_err(|_| bad());
    let month = time::Month::try_from(num(0..2)?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(year, month, num(2..4)?).map_err(|_| bad())?;
    let clock = time::Time::from_hms(num(4..6)?, num(6..8)?, num(8..10)?).map_err(|_| bad())?;
    Ok(time::PrimitiveDateTime::new(date, clock).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(days_valid: i64) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(days_valid);
        (params.self_signed(&key).unwrap(), key)
    }

    #[test]
    fn reads_rcgen_certificates() {
        let (cert, _key) = generated(30);
        let parsed = Certificate::all_from_pem(&cert.pem()).unwrap();
        assert_eq!(parsed.len(), 1);
        let c = &parsed[0];
        assert!(c.not_before < OffsetDateTime::now_utc());
        assert!(c.not_after > OffsetDateTime::now_utc() + time::Duration::days(29));
        assert_eq!(
            c.thumbprint,
            URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, cert.der()))
        );
        assert!(c.matches(&c.thumbprint, false));
        assert!(c.matches(&format!("{}=", c.thumbprint), false));
        assert!(c.matches(&c.thumbprint_sha256, true));
        assert!(!c.matches(&c.thumbprint, true));
        assert_eq!(c.thumbprint_hex().len(), 40);
        // base64 DER is accepted too.
        let b64 = STANDARD.encode(cert.der());
        assert_eq!(Certificate::all_from_text(&b64).unwrap()[0], *c);
        // Two blocks give two certificates.
        let (other, _) = generated(1);
        let both = format!("{}\n{}", cert.pem(), other.pem());
        assert_eq!(Certificate::all_from_text(&both).unwrap().len(), 2);
    }

    #[test]
    fn refuses_garbage_and_non_rsa_keys() {
        assert!(Certificate::all_from_text("hello").is_err());
        assert!(Certificate::from_der(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
        let ec_key = rcgen::KeyPair::generate().unwrap();
        let ec = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&ec_key)
            .unwrap();
        let err = Certificate::all_from_pem(&ec.pem()).unwrap_err();
        assert!(err.contains("RSA"), "{err}");
    }
}
