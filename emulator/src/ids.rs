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

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_version_4_and_differ() {
        let (a, b) = (super::random_uuid(), super::random_uuid());
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, b);
    }
}
