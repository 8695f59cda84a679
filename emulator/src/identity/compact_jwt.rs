//! A client assertion taken apart: three base64url parts, a JSON header and
//! payload, and the signature over `header.payload`. Certificate and
//! federated assertions share this first step.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

pub(super) struct CompactJwt<'a> {
    pub header: Value,
    pub claims: Value,
    /// `header.payload`: what the signature covers.
    pub signed: &'a str,
    pub signature: Vec<u8>,
}

impl<'a> CompactJwt<'a> {
    /// Splits and decodes; `Err` says what is wrong, for AADSTS50027's text.
    pub fn parse(text: &'a str) -> Result<Self, &'static str> {
        let text = text.trim();
        let parts: Vec<&str> = text.split('.').collect();
        let [header_b64, payload_b64, signature_b64] = parts.as_slice() else {
            return Err("The client assertion is not a compact JWT (three dot-separated parts).");
        };
        let decode_json = |part: &str| -> Option<Value> {
            let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .filter(Value::is_object)
        };
        let (Some(header), Some(claims)) = (decode_json(header_b64), decode_json(payload_b64))
        else {
            return Err("The client assertion's header or payload is not base64url-encoded JSON.");
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64.trim_end_matches('='))
            .map_err(|_| "The client assertion's signature is not base64url.")?;
        Ok(CompactJwt {
            header,
            claims,
            signed: &text[..header_b64.len() + 1 + payload_b64.len()],
            signature,
        })
    }

    /// A string claim, trimmed.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str).map(str::trim)
    }

    /// The `aud` claim as a list (a JWT may carry one string or an array).
    pub fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    pub fn alg(&self) -> &str {
        self.header.get("alg").and_then(Value::as_str).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_claims() {
        let b64 = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let text = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"aud":["a","b"],"sub":" s "}"#),
            b64("sig")
        );
        let jwt = CompactJwt::parse(&text).unwrap();
        assert_eq!(jwt.alg(), "RS256");
        assert_eq!(jwt.audiences(), ["a", "b"]);
        assert_eq!(jwt.claim("sub"), Some("s"));
        assert_eq!(jwt.signature, b"sig");
        assert!(text.starts_with(jwt.signed));
        assert!(CompactJwt::parse("a.b").is_err());
        assert!(CompactJwt::parse("e30.bm90IGpzb24.c2ln").is_err());
    }
}
