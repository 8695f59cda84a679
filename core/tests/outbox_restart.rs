//! A PostgreSQL queue whose server goes away and comes back: calls fail
//! with a clear, retryable error while it is gone, nothing already queued
//! is lost, and the same `Outbox` works again once it is back. Its own test
//! binary, because it stops the shared test server (cargo runs test
//! binaries one after another).

mod common;

use std::process::Command;

use common::{ALLOWED, TestEmulator};
use graphmailer::outbox::ListFilter;
use graphmailer::{ErrorKind, Mailer, Message, Outbox, QueueState};
use graphmailer_emulator::defaults as d;

fn ctl(action: &str, command: &str) {
    let status = Command::new(command)
        .arg(action)
        .status()
        .expect("the cluster's control script runs");
    assert!(status.success(), "{action}: {status}");
}

fn invoice(n: usize) -> Message {
    Message::new(ALLOWED)
        .to("accounts@example.com")
        .subject(format!("Invoice {n}"))
        .text("Please pay.")
}

#[tokio::test]
async fn a_postgresql_that_goes_away_and_comes_back_keeps_its_mail() {
    let (Ok(base), Ok(control)) = (
        std::env::var("GRAPHMAILER_TEST_POSTGRES"),
        std::env::var("GRAPHMAILER_TEST_POSTGRES_CTL"),
    ) else {
        eprintln!(
            "GRAPHMAILER_TEST_POSTGRES(_CTL) unset: skipped (scripts/with-postgres.sh sets them)"
        );
        return;
    };
    let outbox = Outbox::open(&base).await.unwrap();
    let shown = format!("{outbox:?}");
    assert!(shown.contains("postgres (database postgres on "), "{shown}");
    let with_password = format!("{base}&password=hunter2-secret");
    let debug = format!("{:?}", Outbox::open(&with_password).await.unwrap());
    assert!(!debug.contains("hunter2"), "{debug}");
    let before = outbox.enqueue(&invoice(1)).await.unwrap();

    ctl("stop", &control);
    let gone = outbox.enqueue(&invoice(2)).await.unwrap_err();
    let listing = outbox.list(&ListFilter::default()).await.unwrap_err();
    ctl("start", &control);

    assert_eq!(gone.kind(), ErrorKind::Transient, "{gone}");
    assert_eq!(gone.field(), Some("outbox"));
    assert!(!gone.message().contains("password"), "{gone}");
    assert_eq!(listing.kind(), ErrorKind::Transient);
    let opening = Outbox::open("postgresql:///nosuchdb?host=/nonexistent-dir&user=postgres")
        .await
        .unwrap_err();
    // No server there (yet): a passing failure, so that `sendmail` exits 75
    // and its caller tries again, rather than 78 and a bounce; the hint
    // names what to check in case it is the URL.
    assert_eq!(opening.kind(), ErrorKind::Transient, "{opening}");
    assert_eq!(opening.field(), Some("outbox"));
    assert!(
        opening
            .hint()
            .unwrap()
            .contains("check that the server runs"),
        "{opening}"
    );
    // A server that answers and refuses (no such database) is a setting.
    let refused = Outbox::open(&format!("{base}&dbname=nosuchdb"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Config, "{refused}");

    let after = outbox
        .enqueue(&invoice(3))
        .await
        .expect("reconnects once the server is back");
    let ids: Vec<_> = outbox
        .list(&ListFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert!(ids.contains(&before) && ids.contains(&after), "{ids:?}");

    let emu = TestEmulator::start().await;
    let mailer = Mailer::new(
        emu.config()
            .client_id(d::OUTBOX_CLIENT_ID)
            .client_secret(d::OUTBOX_SECRET)
            .build()
            .unwrap(),
    )
    .unwrap();
    outbox.run_until_empty(&mailer).await.unwrap();
    for id in [&before, &after] {
        assert_eq!(
            outbox.get(id).await.unwrap().unwrap().state,
            QueueState::Sent
        );
    }
}
