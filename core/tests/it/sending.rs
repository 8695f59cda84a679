//! The token cache, retries and concurrency against a real emulator over HTTP.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use graphmailer::{ErrorKind, Handover, Mailer, Message};
use serde_json::json;

fn invoice(sender: &str) -> Message {
    Message::new(sender)
        .to("alice@example.com")
        .subject("Invoice")
        .text("Please pay.")
}

#[tokio::test]
async fn one_token_serves_a_hundred_sends() {
    let emu = TestEmulator::start().await;
    let mailer = emu.mailer();
    for _ in 0..100 {
        mailer.send(&invoice(ALLOWED)).await.unwrap();
    }
    assert_eq!(emu.counter("token_requests").await, 1);
    assert_eq!(emu.counter("sends_accepted").await, 100);
    assert_eq!(mailer.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_sends_on_a_cold_cache_make_one_token_request() {
    let emu = TestEmulator::start().await;
    let mailer = emu.mailer();
    let sends = (0..50).map(|i| {
        let mailer = mailer.clone();
        // Spread over two mailboxes so the per-mailbox cap does not serialise them.
        let sender = if i % 2 == 0 {
            ALLOWED
        } else {
            "billing@contoso.test"
        };
        tokio::spawn(async move { mailer.send(&invoice(sender)).await })
    });
    for send in futures::future::join_all(sends).await {
        send.unwrap().unwrap();
    }
    assert_eq!(emu.counter("token_requests").await, 1);
    assert_eq!(emu.counter("sends_accepted").await, 50);
}

#[tokio::test]
async fn the_token_is_refreshed_ahead_of_expiry() {
    let emu = TestEmulator::start().await;
    emu.settings(json!({"token_lifetime_secs": 4})).await;
    let mailer = emu.mailer();
    mailer.send(&invoice(ALLOWED)).await.unwrap();
    mailer.send(&invoice(ALLOWED)).await.unwrap();
    assert_eq!(
        emu.counter("token_requests").await,
        1,
        "a fresh token is reused"
    );
    // Past the refresh point (half of a short lifetime) but before expiry.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    mailer.send(&invoice(ALLOWED)).await.unwrap();
    assert_eq!(
        emu.counter("token_requests").await,
        2,
        "refreshed before it expired"
    );
    assert_eq!(emu.counter("sends_accepted").await, 3);
}

#[tokio::test]
async fn a_failed_refresh_leaves_the_still_good_token_serving() {
    let emu = TestEmulator::start().await;
    emu.settings(json!({"token_lifetime_secs": 4})).await;
    let mailer = emu.mailer();
    mailer.send(&invoice(ALLOWED)).await.unwrap();
    // Past the refresh point, a second before expiry; the identity platform
    // refuses the refresh.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    emu.faults(json!({"token": [{"status": 400, "code": "temporarily_unavailable"}]}))
        .await;
    let receipt = mailer.send(&invoice(ALLOWED)).await.unwrap();
    assert_eq!(receipt.attempts, 1);
    assert_eq!(
        emu.counter("token_requests").await,
        2,
        "a refresh was tried"
    );
    // The next send within the pause does not ask again.
    mailer.send(&invoice(ALLOWED)).await.unwrap();
    assert_eq!(emu.counter("token_requests").await, 2);
    assert_eq!(emu.counter("sends_accepted").await, 3);
}

#[tokio::test]
async fn a_refused_token_is_dropped_and_the_send_retried_once() {
    let emu = TestEmulator::start().await;
    let mailer = emu.mailer();
    mailer.send(&invoice(ALLOWED)).await.unwrap();
    emu.revoke_tokens().await;
    let receipt = mailer.send(&invoice(ALLOWED)).await.unwrap();
    assert_eq!(receipt.attempts, 2);
    assert_eq!(emu.counter("token_requests").await, 2);
    assert_eq!(emu.counter("send_requests").await, 3);
    assert_eq!(emu.messages().await.len(), 2);
}

#[tokio::test]
async fn throttling_waits_as_long_as_retry_after_says() {
    let emu = TestEmulator::start().await;
    let mailer = emu.mailer();
    mailer.send(&invoice(ALLOWED)).await.unwrap();
    emu.faults(json!({"send": [{"status": 429, "retry_after_secs": 1}]}))
        .await;
    let started = Instant::now();
    let receipt = mailer.send(&invoice(ALLOWED)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(receipt.attempts, 2);
    assert_eq!(emu.counter("throttled").await, 1);
    assert_eq!(emu.messages().await.len(), 2, "sent exactly once");
}

#[tokio::test]
async fn a_503_is_retried_and_exhausted_retries_say_so() {
    let emu = TestEmulator::start().await;
    let mailer = graphmailer::Mailer::new(emu.config().max_attempts(2).build().unwrap()).unwrap();
    emu.faults(json!({"send": [{"status": 503}]})).await;
    assert_eq!(mailer.send(&invoice(ALLOWED)).await.unwrap().attempts, 2);
    emu.reset().await;
    emu.faults(json!({"send": [{"status": 503}, {"status": 503}, {"status": 503}]}))
        .await;
    let e = mailer.send(&invoice(ALLOWED)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert!(e.message().contains("gave up after 2 attempts"), "{e}");
    assert!(e.hint().unwrap().contains("Nothing was sent"));
    assert_eq!(emu.counter("send_requests").await, 2);
    assert!(emu.messages().await.is_empty());
}

#[tokio::test]
async fn a_connection_dropped_after_the_body_is_ambiguous_and_not_retried() {
    let emu = TestEmulator::start().await;
    let mailer = emu.mailer();
    emu.faults(json!({"send": [{"drop_after_body": true, "deliver": true}]}))
        .await;
    let e = mailer.send(&invoice(ALLOWED)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AmbiguousDelivery, "{e}");
    assert!(e.hint().unwrap().contains("may have been sent"));
    assert!(
        e.request_id().is_some(),
        "the client-request-id identifies it"
    );
    assert_eq!(emu.counter("send_requests").await, 1, "not retried");
    assert_eq!(
        emu.messages().await.len(),
        1,
        "the mail did go out: a retry would have sent it twice"
    );
}

#[tokio::test]
async fn a_gateway_timeout_is_ambiguous_and_not_retried() {
    let emu = TestEmulator::start().await;
    let mailer = emu.mailer();
    emu.faults(json!({"send": [{"status": 504}]})).await;
    let e = mailer.send(&invoice(ALLOWED)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AmbiguousDelivery);
    assert_eq!(e.status(), Some(504));
    assert_eq!(emu.counter("send_requests").await, 1);
}

#[tokio::test]
async fn an_unreachable_service_is_transient() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let config = graphmailer::Config::builder()
        .tenant_id(TENANT)
        .client_id(CLIENT)
        .client_secret(SECRET)
        .authority_host(&url)
        .graph_endpoint(&url)
        .max_attempts(2)
        .build()
        .unwrap();
    let started = Instant::now();
    let e = graphmailer::Mailer::new(config)
        .unwrap()
        .send(&invoice(ALLOWED))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert!(
        e.message()
            .contains("could not reach the identity platform"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_four_requests_per_mailbox_are_in_flight() {
    let emu = TestEmulator::start().await;
    emu.settings(json!({"mailbox_concurrency": 4})).await;
    emu.faults(json!({"delay_ms": 150})).await;
    let mailer = emu.mailer();
    let sends = (0..16).map(|_| {
        let mailer = mailer.clone();
        tokio::spawn(async move { mailer.send(&invoice(ALLOWED)).await })
    });
    for send in futures::future::join_all(sends).await {
        send.unwrap().unwrap();
    }
    assert_eq!(
        emu.counter("throttled").await,
        0,
        "queued locally instead of drawing 429s"
    );
    assert_eq!(emu.counter("max_in_flight").await, 4);
    assert_eq!(emu.counter("sends_accepted").await, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailboxes_sending_at_once_spread_over_connections_and_each_keeps_one() {
    // Over TLS the client speaks HTTP/2, where one HTTP client would carry
    // every request on one connection.
    let emu = TestEmulator::start_with(true).await;
    // Long enough that each mailbox has its 4 requests in flight together.
    emu.faults(json!({"delay_ms": 20})).await;
    let mailer = emu.mailer();
    let mailboxes = [ALLOWED, "billing@contoso.test"];
    // One send each first: a burst on a client with no connection yet races
    // several handshakes, and hyper may carry a request on a loser's
    // connection (connection_pool.rs).
    for mailbox in mailboxes {
        mailer.send(&invoice(mailbox)).await.unwrap();
    }
    let sends = (0..32).map(|i| {
        let mailer = mailer.clone();
        let sender = mailboxes[i % mailboxes.len()];
        tokio::spawn(async move { mailer.send(&invoice(sender)).await })
    });
    for send in futures::future::join_all(sends).await {
        send.unwrap().unwrap();
    }
    let connections = emu.connections().await;
    for mailbox in mailboxes {
        let carrying: Vec<u64> = connections
            .iter()
            .filter_map(|requests| requests.get(mailbox)?.as_u64())
            .collect();
        assert_eq!(
            carrying,
            [17],
            "{mailbox}'s requests on one connection: {connections:?}"
        );
    }
    // One connection per core, up to 4: the two mailboxes each have their own
    // wherever the process may run on more than one core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(connections.len(), cores.min(2), "{connections:?}");
    assert_eq!(emu.counter("token_requests").await, 1);
    assert_eq!(emu.counter("throttled").await, 0);
}

#[tokio::test]
async fn https_with_the_emulator_ca() {
    let emu = TestEmulator::start_with(true).await;
    assert!(emu.url().starts_with("https://"));
    emu.mailer().send(&invoice(ALLOWED)).await.unwrap();
    let without_ca = graphmailer::Config::builder()
        .tenant_id(TENANT)
        .client_id(CLIENT)
        .client_secret(SECRET)
        .authority_host(emu.url())
        .graph_endpoint(emu.url())
        .max_attempts(1)
        .build()
        .unwrap();
    let e = graphmailer::Mailer::new(without_ca)
        .unwrap()
        .send(&invoice(ALLOWED))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Config,
        "an untrusted certificate is a setting to fix: {e}"
    );
    assert_eq!(e.field(), Some("GRAPHMAILER_CA_BUNDLE"));
    assert!(e.hint().unwrap().contains("GRAPHMAILER_CA_BUNDLE"));
}

#[tokio::test]
async fn identity_platform_refusals_carry_their_code_and_hint() {
    let emu = TestEmulator::start().await;
    let cases = [
        (
            emu.config()
                .client_secret("5a1f3c7e-2b9d-4e6f-8a0c-1d3b5e7f9a2c"),
            ErrorKind::Authentication,
            "AADSTS7000215",
            "Secret ID",
        ),
        (
            emu.config()
                .client_secret("Old8Q~expiredSecretValue.0123456789abcdef"),
            ErrorKind::Authentication,
            "AADSTS7000222",
            "expired",
        ),
        (
            emu.config()
                .client_id("11111111-2222-4333-8444-555555555555"),
            ErrorKind::Authentication,
            "AADSTS700016",
            "Application (client) ID",
        ),
        (
            emu.config()
                .tenant_id("99999999-8888-4777-8666-555555555555"),
            ErrorKind::Authentication,
            "AADSTS90002",
            "Directory (tenant) ID",
        ),
        (
            emu.config().scope("api://unknown/.default"),
            ErrorKind::Config,
            "AADSTS500011",
            "/.default",
        ),
    ];
    for (config, kind, code, hint) in cases {
        let mailer = Mailer::new(config.build().unwrap()).unwrap();
        let error = mailer.send(&invoice(ALLOWED)).await.unwrap_err();
        assert_eq!((error.kind(), error.code()), (kind, Some(code)), "{error}");
        assert!(
            error.hint().is_some_and(|h| h.contains(hint)),
            "{code}: {error}"
        );
        assert!(!format!("{error:?}").contains("Emu8Q~"), "{code}");
    }
    assert_eq!(emu.counter("send_requests").await, 0, "no token, no send");
    // 'common' never reaches the identity platform: refused while configuring.
    let error = emu.config().tenant_id("common").build().unwrap_err();
    assert_eq!(
        (error.kind(), error.field()),
        (ErrorKind::Config, Some("AZURE_TENANT_ID"))
    );
}

#[tokio::test]
async fn a_send_cancelled_while_graph_answers_is_recorded_and_logged_as_maybe_sent() {
    let emu = TestEmulator::start().await;
    // Graph holds the answer; the request is with it meanwhile.
    emu.faults(json!({"delay_ms": 30_000})).await;
    let logs = Captured::default();
    let _logging = tracing::subscriber::set_default(logs.subscriber());
    let mailer = emu.mailer();
    let handover = Handover::new();
    let send = tokio::spawn({
        let handover = handover.clone();
        async move { handover.watch(mailer.send(&invoice(ALLOWED))).await }
    });
    emu.wait_for_counter("send_requests", 1).await;
    send.abort();
    assert!(send.await.unwrap_err().is_cancelled());
    let request = handover
        .may_have_been_sent()
        .expect("a request that reached Graph is recorded");
    assert_eq!(request.sender, ALLOWED);
    assert_eq!(request.client_request_id.len(), 36, "{request:?}");
    assert!(
        request.hint().contains("erp@contoso.test's Sent Items"),
        "{}",
        request.hint()
    );
    let logged = logs.text();
    let warning = logged
        .lines()
        .find(|l| l.contains("the send was cancelled after its request reached Microsoft"))
        .unwrap_or_else(|| panic!("no warning in the log:\n{logged}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains(&request.client_request_id), "{warning}");
}

#[tokio::test]
async fn a_handover_records_only_a_request_that_may_have_sent_the_mail() {
    let emu = TestEmulator::start().await;
    let mailer = emu.mailer();
    let handover = Handover::new();
    // Cancelled while the token is fetched, before any request to Graph.
    let cancelled = tokio::time::timeout(
        Duration::ZERO,
        handover.watch(mailer.send(&invoice(ALLOWED))),
    )
    .await;
    assert!(cancelled.is_err());
    assert_eq!(handover.may_have_been_sent(), None);
    assert_eq!(emu.counter("send_requests").await, 0);

    // A send that Graph throttled, then accepted: recorded (it went out).
    emu.faults(json!({"send": [{"status": 429, "retry_after_secs": 0}]}))
        .await;
    handover
        .watch(mailer.send(&invoice(ALLOWED)))
        .await
        .unwrap();
    assert!(handover.may_have_been_sent().is_some());
    // A send Graph refused outright (its access policy) sent nothing: the
    // request went out and was recorded, then its answer cleared it.
    let before = emu.counter("send_requests").await;
    let refused = Handover::new();
    let denied = refused
        .watch(mailer.send(&invoice(DENIED)))
        .await
        .unwrap_err();
    assert_eq!(denied.kind(), ErrorKind::AccessDenied, "{denied}");
    assert_eq!(emu.counter("send_requests").await, before + 1);
    assert_eq!(refused.may_have_been_sent(), None);
}
