//! Microsoft's published limits that graphmailer enforces before sending, so a
//! request that Graph would refuse fails early, with a clear error.

/// Graph refuses a request body over 4 MB ("The maximum request length
/// supported is 4MB."); base64 makes attachments a third larger.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Exchange Online's default limit of recipients per message.
pub const MAX_RECIPIENTS: usize = 500;

/// Graph accepts at most five custom internet message headers.
pub const MAX_HEADERS: usize = 5;

/// Outlook's limit of requests in flight per app and mailbox.
pub const MAX_CONCURRENT_PER_MAILBOX: usize = 4;

/// Graph's largest file attachment, sent through an upload session.
pub const MAX_ATTACHMENT_BYTES: u64 = 150 * 1024 * 1024;

/// Graph refuses an upload session for a file under 3 MB
/// (`ErrorAttachmentSizeShouldNotBeLessThanMinimumSize`); such a file is
/// attached to the draft with one request instead.
pub const UPLOAD_SESSION_MIN_BYTES: u64 = 3 * 1024 * 1024;

/// The bytes sent per upload-session request: under Graph's 4 MB per request,
/// and a multiple of 320 KiB, the unit OneDrive's sessions require, in case
/// Outlook's ever does too.
pub const UPLOAD_CHUNK_BYTES: usize = 12 * 320 * 1024;

/// The largest raw MIME message Graph's MIME form of `sendMail` takes: the
/// request carries it as base64, which must stay within the 4 MB request
/// limit. A larger one is taken apart (up to [`MAX_LARGE_MIME_BYTES`]).
pub const MAX_MIME_BYTES: usize = MAX_REQUEST_BYTES / 4 * 3;

/// The largest MIME message taken apart and sent through a draft and upload
/// sessions when large messages are on: a 150 MB attachment in base64 and
/// the rest of the message.
pub const MAX_LARGE_MIME_BYTES: usize = 210 * 1024 * 1024;
