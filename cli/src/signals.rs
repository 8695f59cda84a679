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
