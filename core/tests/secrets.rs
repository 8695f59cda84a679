//! The client secret and the access token never appear in Debug output,
//! errors or log lines, whatever happens. Its own test binary, because it
//! installs a global log subscriber.

mod common;

use common::*;
use graphmailer::Message;
use serde_json::json;

#[tokio::test]
async fn secrets_stay_out_of_debug_errors_and_logs() {
    let logs = Captured::default();
    tracing::subscriber::set_global_default(logs.subscriber()).unwrap();

    let emu = TestEmulator::start().await;
    let mailer = emu.mailer();
    let mut texts = vec![format!("{mailer:?}"), format!("{:?}", mailer.config())];
    let ok = Message::new(ALLOWED)
        .to("a@example.com")
        .subject("s")
        .text("t");
    mailer.send(&ok).await.unwrap();
    emu.revoke_tokens().await;
    mailer.send(&ok).await.unwrap();
    emu.faults(
        json!({"send": [{"status": 429, "retry_after_secs": 0}, {"drop_after_body": true}]}),
    )
    .await;
    let ambiguous = mailer.send(&ok).await.unwrap_err();
    let denied = mailer
        .send(&Message::new(DENIED).to("a@example.com").text("t"))
        .await
        .unwrap_err();
    let wrong_secret = graphmailer::Mailer::new(
        emu.config()
            .client_secret("Wrong8Q~secret-value")
            .build()
            .unwrap(),
    )
    .unwrap()
    .send(&ok)
    .await
    .unwrap_err();
    // A large message whose chunks fail: the upload URL carries its own
    // credential (`authtoken=`), which must stay out of errors and logs too.
    let billing =
        graphmailer::Mailer::new(emu.billing_config().max_attempts(2).build().unwrap()).unwrap();
    emu.faults(json!({"upload": [
        {"nth": 1, "drop_after_body": true},
        {"nth": 2, "status": 503, "retry_after_secs": 0},
        {"nth": 3, "status": 503, "retry_after_secs": 0}
    ]}))
    .await;
    let large = Message::new(graphmailer_emulator::defaults::BILLING_MAILBOX)
        .to("a@example.com")
        .attach(graphmailer::Attachment::from_bytes(
            "big.bin",
            vec![7u8; 4 * 1024 * 1024],
        ));
    let upload_failed = billing.send(&large).await.unwrap_err();
    assert!(
        upload_failed.message().contains("draft was deleted"),
        "{upload_failed}"
    );
    texts.push(format!("{billing:?}"));
    for e in [&ambiguous, &denied, &wrong_secret, &upload_failed] {
        texts.push(format!("{e}"));
        texts.push(format!("{e:?}"));
    }
    let logged = logs.text();
    assert!(
        logged.contains("acquired an access token"),
        "logging was captured: {logged}"
    );
    texts.push(logged);
    for text in texts {
        assert!(!text.contains(SECRET), "secret leaked: {text}");
        assert!(
            !text.contains("Wrong8Q~secret-value"),
            "wrong secret leaked: {text}"
        );
        // Every JWT starts with a base64url '{"' header: no token in any text.
        assert!(!text.contains("eyJ"), "a token leaked: {text}");
        assert!(!text.contains("authtoken"), "an upload URL leaked: {text}");
    }
}
