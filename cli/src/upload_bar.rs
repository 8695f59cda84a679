//! The progress bar of `graphmailer send` for a message that goes up in
//! upload sessions. Only a person at a terminal sees it: with `--json`, or
//! when stderr is a pipe or a file (cron, a log), nothing is drawn, so
//! scripts and logs get no control characters.

use std::io::IsTerminal;

use graphmailer::{Progress, SendOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The send options with the bar's observer, and the bar to clear once the
/// send is over (it may end in an error, which must not be drawn over).
pub fn send_options(json: bool) -> (SendOptions, Option<ProgressBar>) {
    if json || !std::io::stderr().is_terminal() {
        return (SendOptions::new(), None);
    }
    // Hidden until the first event, so a small message draws nothing at all.
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:20!} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let shown = bar.clone();
    let options = SendOptions::new().on_progress(move |p: &Progress| {
        if shown.length().is_none() {
            shown.set_length(p.message_total);
            shown.set_draw_target(ProgressDrawTarget::stderr());
        }
        shown.set_message(p.name.clone());
        shown.set_position(p.message_sent);
    });
    (options, Some(bar))
}
