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
