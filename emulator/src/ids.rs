//! Request ids: the header names that carry them, and random ids for what
//! the emulator makes per request (`request-id`, stored message ids).
//! `Uuid::new_v4()` asks the kernel for each one, a system call per id;
//! the thread's generator (a CSPRNG seeded once by the kernel) gives ids
//! just as unique without it.

use axum::http::HeaderName;
use uuid::Uuid;

// Names parsed once: a name given as text is parsed again on every use, and
// every Graph answer carries both.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
pub(crate) const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

pub(crate) fn random_uuid() -> Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// A new id as text.
pub(crate) fn random_id() -> String {
    uuid_text(random_uuid())
}

/// An id as text, lower case and hyphenated. Written straight into its
/// buffer: `to_string` goes through the formatting machinery, and every
/// stored message needs four of them.
pub(crate) fn uuid_text(id: Uuid) -> String {
    let mut buffer = Uuid::encode_buffer();
    id.hyphenated().encode_lower(&mut buffer).to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_version_4_and_differ() {
        let (a, b) = (super::random_uuid(), super::random_uuid());
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, b);
    }

    #[test]
    fn an_id_as_text_is_a_lower_case_hyphenated_uuid() {
        let id = super::random_id();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(id, parsed.hyphenated().to_string());
        assert_eq!(parsed.get_version_num(), 4);
    }
}
