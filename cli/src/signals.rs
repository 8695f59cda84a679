//! The signals that stop a command: SIGTERM (systemd's stop, `timeout`,
//! `kill`) and Ctrl-C.

/// Resolves at the first SIGTERM or Ctrl-C, with the words for it
/// ("interrupted by SIGTERM"). A signal that cannot be listened for never
/// resolves: the command then runs to its end, as it did without this.
pub async fn stopped() -> String {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = term.recv() => "interrupted by SIGTERM".to_owned(),
                () = ctrl_c() => "interrupted by Ctrl-C".to_owned(),
            };
        }
    }
    ctrl_c().await;
    "interrupted by Ctrl-C".to_owned()
}

async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// While the value lives, SIGTERM no longer ends the process: for work that
/// is worse stopped half-way than finished. tokio keeps its handler for the
/// process's life, so this is for a process that ends with that work.
#[cfg(unix)]
pub fn hold_termination() -> Option<tokio::signal::unix::Signal> {
    let _context = graphmailer::blocking::runtime().enter();
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()
}

#[cfg(not(unix))]
pub fn hold_termination() {}
