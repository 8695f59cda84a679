//! Upload progress for messages that go through a draft and upload sessions:
//! a 150 MB attachment on a slow line takes minutes, and a caller wants to
//! show that something is moving.
//!
//! Only that path reports. A message that fits one `sendMail` request is one
//! request with nothing in between to report, so its observer is never
//! called.

use std::fmt;
use std::sync::Arc;

/// How far a large message's attachments have gone up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// The attachment's place in the message's list of attachments.
    pub index: usize,
    /// The attachment's file name.
    pub name: String,
    /// Bytes of this attachment the service has taken so far.
    pub sent: u64,
    /// The attachment's size.
    pub total: u64,
    /// Bytes of all the message's attachments taken so far.
    pub message_sent: u64,
    /// The size of all the message's attachments.
    pub message_total: u64,
    /// True on the last event only, once Graph accepted the draft's send;
    /// it repeats the last attachment's figures.
    pub finished: bool,
}

/// Called after each chunk an upload session takes, after each smaller
/// attachment added to the draft, and once more (with `finished`) when the
/// message is sent. It runs on the thread doing the upload, so it should be
/// quick; the upload waits for it. It may send (`blocking::Mailer` too): a
/// blocking wait on the runtime's own thread hands that thread's tasks on.
pub type ProgressObserver = Arc<dyn Fn(&Progress) + Send + Sync>;

/// What one send may be given besides the message.
#[derive(Clone, Default)]
pub struct SendOptions {
    pub(crate) progress: Option<ProgressObserver>,
}

impl SendOptions {
    /// No options: what [`crate::Mailer::send`] uses.
    pub fn new() -> Self {
        SendOptions::default()
    }

    /// Reports upload progress to `observer` (see [`ProgressObserver`]).
    pub fn on_progress(mut self, observer: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(observer));
        self
    }
}

impl fmt::Debug for SendOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendOptions")
            .field("progress", &self.progress.as_ref().map(|_| "observer"))
            .finish()
    }
}

/// Keeps the message-wide counts between events, and keeps them from going
/// backwards when an upload resumes from an earlier byte after a failure.
pub(crate) struct ProgressReporter {
    observer: Option<ProgressObserver>,
    last: Progress,
    done_before: u64,
}

impl ProgressReporter {
    pub(crate) fn new(observer: Option<ProgressObserver>, message_total: u64) -> Self {
        ProgressReporter {
            observer,
            last: Progress {
                index: 0,
                name: String::new(),
                sent: 0,
                total: 0,
                message_sent: 0,
                message_total,
                finished: false,
            },
            done_before: 0,
        }
    }

    /// `sent` of `total` bytes of attachment `index` are on the draft.
    pub(crate) fn attachment(&mut self, index: usize, name: &str, sent: u64, total: u64) {
        if index != self.last.index || self.last.name != name {
            self.done_before += self.last.total;
            self.last.index = index;
            self.last.name = name.to_owned();
            self.last.sent = 0;
        }
        if sent < self.last.sent {
            return;
        }
        self.last.sent = sent.min(total);
        self.last.total = total;
        self.last.message_sent = self.done_before + self.last.sent;
        self.emit();
    }

    /// The draft was sent: the last event.
    pub(crate) fn finished(&mut self) {
        self.last.finished = true;
        self.emit();
    }

    fn emit(&self) {
        if let Some(observer) = &self.observer {
            observer(&self.last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn counts_add_up_across_attachments_and_never_go_back() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let observer: ProgressObserver =
            Arc::new(move |p: &Progress| log.lock().unwrap().push(p.clone()));
        let mut reporter = ProgressReporter::new(Some(observer), 30);
        reporter.attachment(0, "a.pdf", 10, 10);
        reporter.attachment(1, "b.bin", 8, 20);
        reporter.attachment(1, "b.bin", 4, 20); // a resume from an earlier byte
        reporter.attachment(1, "b.bin", 20, 20);
        reporter.finished();
        let seen = seen.lock().unwrap();
        let figures: Vec<_> = seen
            .iter()
            .map(|p| (p.index, p.sent, p.message_sent, p.finished))
            .collect();
        assert_eq!(
            figures,
            [
                (0, 10, 10, false),
                (1, 8, 18, false),
                (1, 20, 30, false),
                (1, 20, 30, true)
            ]
        );
        assert!(seen.iter().all(|p| p.message_total == 30));
    }
}
