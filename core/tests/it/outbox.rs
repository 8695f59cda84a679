//! The durable outbox against a running emulator: delivery and its
//! records, ambiguous sends settled through Sent Items (or held as
//! uncertain without the permission), back-off and failures, the limits
//! per mailbox across two workers, and bad input. Each test runs on SQLite,
//! and on PostgreSQL when GRAPHMAILER_TEST_POSTGRES names a server.

use crate::common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use common::{ALLOWED, DENIED, TestEmulator};
use graphmailer::outbox::{ListFilter, OutboxSettings};
use graphmailer::{Attachment, ErrorKind, Mailer, Message, MimeMessage, Outbox, QueueState};
use graphmailer_emulator::defaults as d;
use serde_json::json;

/// A fresh, empty queue of each kind under test.
struct Queues {
    _dir: tempdir::Dir,
    urls: Vec<String>,
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let path = std::env::temp_dir().join(format!(
                "graphmailer-outbox-test-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Queues {
    async fn new() -> Queues {
        let dir = tempdir::Dir::new();
        let mut urls = vec![format!("sqlite:{}", dir.0.join("outbox.db").display())];
        match std::env::var("GRAPHMAILER_TEST_POSTGRES") {
            Ok(base) if !base.is_empty() => urls.push(fresh_postgres(&base).await),
            _ => eprintln!(
                "GRAPHMAILER_TEST_POSTGRES is unset: PostgreSQL runs skipped (scripts/with-postgres.sh sets it)"
            ),
        }
        eprintln!(
            "queues under test: {}",
            urls.iter()
                .map(|u| u.split(':').next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Queues { _dir: dir, urls }
    }
}

/// A new database on the test server, so tests do not share a queue.
async fn fresh_postgres(base: &str) -> String {
    let name = format!("outbox_{:016x}", rand::random::<u64>());
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .expect("the test PostgreSQL answers");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    with_database(base, &name)
}

fn with_database(base: &str, name: &str) -> String {
    // postgresql:///postgres?host=/dir -> postgresql:///NAME?host=/dir
    let (head, query) = base.split_once('?').unwrap_or((base, ""));
    let root = head.rsplit_once('/').map_or(head, |(r, _)| r);
    if query.is_empty() {
        format!("{root}/{name}")
    } else {
        format!("{root}/{name}?{query}")
    }
}

fn fast() -> OutboxSettings {
    OutboxSettings {
        lease: Duration::from_secs(10),
        backoff_base: Duration::from_secs(30),
        reconcile_wait: Duration::from_secs(2),
        reconcile_poll: Duration::from_millis(100),
        poll_interval: Duration::from_millis(50),
        ..OutboxSettings::default()
    }
}

/// A mailer for the built-in Outbox app: Mail.Send and Mail.ReadBasic.All.
fn reading_mailer(emu: &TestEmulator, attempts: u32) -> Mailer {
    let config = emu
        .config()
        .client_id(d::OUTBOX_CLIENT_ID)
        .client_secret(d::OUTBOX_SECRET)
        .max_attempts(attempts)
        .build()
        .unwrap();
    Mailer::new(config).unwrap()
}

fn invoice(n: usize) -> Message {
    Message::new(ALLOWED)
        .to("accounts@example.com")
        .subject(format!("Invoice {n}"))
        .text("Please find the invoice attached.")
}

/// How many times the emulator stored each internetMessageId.
async fn deliveries(emu: &TestEmulator) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in emu.messages().await {
        let id = m["message"]["internetMessageId"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        *seen.entry(id).or_default() += 1;
    }
    seen
}

#[tokio::test]
async fn queued_mail_is_delivered_once_with_its_message_id_and_recorded() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        let outbox = Outbox::open_with(url, fast()).await.unwrap();
        let a = outbox.enqueue(&invoice(1)).await.unwrap();
        let mime = MimeMessage::from_bytes(
            &b"From: erp@contoso.test\r\nTo: a@example.com\r\nBcc: b@example.com\r\nSubject: raw\r\n\r\nhi\r\n"[..],
        )
        .unwrap();
        let b = outbox.enqueue_mime(None, &mime).await.unwrap();
        let queued = outbox.get(&a).await.unwrap().unwrap();
        assert_eq!(queued.state, QueueState::Queued, "{url}");
        assert_eq!(queued.sender, ALLOWED);
        assert_eq!(queued.recipients, 1);
        assert_eq!(outbox.get(&b).await.unwrap().unwrap().recipients, 2);

        let summary = outbox
            .run_until_empty(&reading_mailer(&emu, 3))
            .await
            .unwrap();
        assert_eq!(summary.sent, 2, "{url}: {summary:?}");
        let sent = outbox.get(&a).await.unwrap().unwrap();
        assert_eq!(sent.state, QueueState::Sent);
        assert_eq!(sent.attempts, 1);
        assert!(sent.request_id.is_some());
        assert!(sent.sent_at.unwrap() <= SystemTime::now());
        let seen = deliveries(&emu).await;
        assert_eq!(seen.get(&sent.internet_message_id), Some(&1), "{seen:?}");
        assert_eq!(seen.len(), 2);
        let stats = outbox.stats().await.unwrap();
        assert_eq!(stats.by_state[&QueueState::Sent], 2);
        assert_eq!(stats.oldest_unsent_age, None);
        // A second run finds nothing to do.
        let again = outbox
            .run_until_empty(&reading_mailer(&emu, 3))
            .await
            .unwrap();
        assert_eq!(again.sent, 0);
        assert_eq!(emu.messages().await.len(), 2);
    }
}

#[tokio::test]
async fn an_invalid_message_is_refused_before_it_is_stored() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let outbox = Outbox::open(url).await.unwrap();
        let kept = outbox.enqueue(&invoice(1)).await.unwrap();
        let no_recipient = Message::new(ALLOWED).subject("x");
        let e = outbox.enqueue(&no_recipient).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidMessage);
        assert_eq!(e.field(), Some("to"));
        let bad_header = invoice(2).header("x-ok", "line\r\nBcc: victim@example.com");
        assert_eq!(
            outbox.enqueue(&bad_header).await.unwrap_err().kind(),
            ErrorKind::InvalidMessage
        );
        let list = outbox.list(&ListFilter::default()).await.unwrap();
        assert_eq!(list.len(), 1, "{url}: only the valid one is stored");
        assert_eq!(list[0].id, kept);
    }
}

/// A caller that answers for a mail once it is queued (the relay's 250,
/// sendmail's 0, an app telling its user "sent") asks the queue to refuse
/// what the mailer that will send it never could; the mail is not stored.
#[tokio::test]
async fn what_a_mailer_could_never_send_is_refused_before_it_is_stored() {
    let queues = Queues::new().await;
    let emu = TestEmulator::start().await;
    let mailer = |large: bool, allowed: &[&str]| {
        let config = emu
            .config()
            .large_messages(large)
            .allowed_senders(allowed.iter().copied());
        Mailer::new(config.build().unwrap()).unwrap()
    };
    let raw = MimeMessage::from_bytes(
        &b"From: erp@contoso.test\r\nTo: a@example.com\r\nSubject: raw\r\n\r\nhi\r\n"[..],
    )
    .unwrap();
    let big = invoice(2).attach(Attachment::from_bytes("ledger.bin", vec![7u8; 4 << 20]));
    for url in &queues.urls {
        let outbox = Outbox::open(url).await.unwrap();
        let alerts_only = mailer(true, &["alerts@contoso.test"]);
        let e = outbox
            .enqueue_for(&alerts_only, &invoice(1))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SenderNotAllowed, "{url}: {e}");
        let e = outbox
            .enqueue_mime_for(&alerts_only, None, &raw)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SenderNotAllowed, "{url}: {e}");
        let small_only = mailer(false, &[]);
        let e = outbox.enqueue_for(&small_only, &big).await.unwrap_err();
        assert_eq!(e.code(), Some("RequestEntityTooLarge"), "{url}: {e}");
        assert!(
            e.hint().is_some_and(|h| h.contains("large")),
            "{url}: {e:?}"
        );
        assert!(
            outbox
                .list(&ListFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
        // What the mailer can send is queued as enqueue would.
        // Sorted: mail queued in one millisecond lists in the order of its ids.
        let mut kept = [
            outbox.enqueue_for(&small_only, &invoice(3)).await.unwrap(),
            outbox
                .enqueue_mime_for(&small_only, None, &raw)
                .await
                .unwrap(),
            outbox
                .enqueue_for(&mailer(true, &[ALLOWED]), &big)
                .await
                .unwrap(),
        ];
        let mut listed: Vec<_> = outbox
            .list(&ListFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id.to_string())
            .collect();
        listed.sort();
        kept.sort_by_key(|id| id.to_string());
        let kept: Vec<_> = kept.iter().map(|id| id.to_string()).collect();
        assert_eq!(listed, kept, "{url}");
    }
}

#[tokio::test]
async fn an_ambiguous_send_is_settled_through_sent_items_either_way() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        emu.settings(json!({"sent_items_lag_ms": 200})).await;
        // The first send is delivered but its answer lost; the second is
        // lost before delivery.
        emu.faults(json!({"send": [
            {"drop_after_body": true, "deliver": true},
            {"drop_after_body": true},
        ]}))
        .await;
        let outbox = Outbox::open_with(
            url,
            OutboxSettings {
                concurrency: 1,
                ..fast()
            },
        )
        .await
        .unwrap();
        let delivered = outbox.enqueue(&invoice(1)).await.unwrap();
        let lost = outbox.enqueue(&invoice(2)).await.unwrap();
        let summary = outbox
            .run_until_empty(&reading_mailer(&emu, 3))
            .await
            .unwrap();
        assert_eq!(summary.sent, 2, "{url}: {summary:?}");
        assert_eq!(summary.reconciled, 1, "{summary:?}");
        assert_eq!(summary.resent, 1, "{summary:?}");
        let seen = deliveries(&emu).await;
        for id in [&delivered, &lost] {
            let mail = outbox.get(id).await.unwrap().unwrap();
            assert_eq!(mail.state, QueueState::Sent);
            assert_eq!(
                seen.get(&mail.internet_message_id),
                Some(&1),
                "exactly once: {seen:?}"
            );
        }
        assert!(
            outbox
                .get(&delivered)
                .await
                .unwrap()
                .unwrap()
                .last_error
                .unwrap()
                .contains("Sent Items"),
            "the record says how it was settled"
        );
    }
}

#[tokio::test]
async fn a_mail_deferred_after_an_ambiguous_try_is_looked_up_again_before_it_is_resent() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        // The copy reaches Sent Items after the first run has stopped looking.
        emu.settings(json!({"sent_items_lag_ms": 1500})).await;
        // Delivered with its answer lost; then Graph is unavailable.
        emu.faults(json!({"send": [
            {"drop_after_body": true, "deliver": true},
            {"status": 503},
        ]}))
        .await;
        let settings = |reconcile_wait| OutboxSettings {
            concurrency: 1,
            reconcile_wait,
            ..fast()
        };
        let hasty = Outbox::open_with(url, settings(Duration::from_millis(300)))
            .await
            .unwrap();
        let id = hasty.enqueue(&invoice(1)).await.unwrap();
        let first = hasty
            .run_until_empty(&reading_mailer(&emu, 1))
            .await
            .unwrap();
        assert_eq!(first.deferred, 1, "{url}: {first:?}");
        assert_eq!(emu.messages().await.len(), 1);

        // Due again: the copy that has shown up meanwhile is found, not doubled.
        hasty.retry(&id).await.unwrap();
        let patient = Outbox::open_with(url, settings(Duration::from_secs(10)))
            .await
            .unwrap();
        let second = patient
            .run_until_empty(&reading_mailer(&emu, 1))
            .await
            .unwrap();
        assert_eq!(second.reconciled, 1, "{url}: {second:?}");
        let mail = patient.get(&id).await.unwrap().unwrap();
        assert_eq!(mail.state, QueueState::Sent);
        assert_eq!(
            deliveries(&emu).await.get(&mail.internet_message_id),
            Some(&1),
            "{url}: exactly once"
        );
    }
}

#[tokio::test]
async fn without_the_read_permission_an_ambiguous_send_stays_uncertain_until_released() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        emu.faults(json!({"send": [{"drop_after_body": true, "deliver": true}]}))
            .await;
        let outbox = Outbox::open_with(url, fast()).await.unwrap();
        let id = outbox.enqueue(&invoice(1)).await.unwrap();
        let erp = emu.mailer(); // Mail.Send only
        let summary = outbox.run_until_empty(&erp).await.unwrap();
        assert_eq!(summary.uncertain, 1, "{url}: {summary:?}");
        let held = outbox.get(&id).await.unwrap().unwrap();
        assert_eq!(held.state, QueueState::Uncertain);
        assert!(held.last_error.unwrap().contains("Mail.ReadBasic.All"));
        for _ in 0..2 {
            outbox.run_until_empty(&erp).await.unwrap();
            assert_eq!(
                outbox.deliver_now(&erp, &id).await.unwrap(),
                QueueState::Uncertain
            );
        }
        assert_eq!(emu.messages().await.len(), 1, "never resent on its own");
        assert_eq!(
            outbox.retry(&id).await.unwrap_err().kind(),
            ErrorKind::InvalidMessage
        );
        outbox.release(&id).await.unwrap();
        assert_eq!(
            outbox.deliver_now(&erp, &id).await.unwrap(),
            QueueState::Sent
        );
        assert_eq!(
            emu.messages().await.len(),
            2,
            "sent again on the operator's word"
        );
    }
}

#[tokio::test]
async fn passing_failures_are_deferred_with_retry_after_and_permanent_ones_fail() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        emu.faults(json!({"send": [{"status": 429, "retry_after_secs": 7}]}))
            .await;
        let outbox = Outbox::open_with(url, fast()).await.unwrap();
        let throttled = outbox.enqueue(&invoice(1)).await.unwrap();
        let mailer = reading_mailer(&emu, 1);
        assert_eq!(
            outbox.deliver_now(&mailer, &throttled).await.unwrap(),
            QueueState::Deferred
        );
        let deferred = outbox.get(&throttled).await.unwrap().unwrap();
        let wait = deferred
            .next_attempt
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(
            wait > Duration::from_secs(5) && wait <= Duration::from_secs(7),
            "{wait:?}"
        );
        assert!(
            deferred
                .last_error
                .unwrap()
                .contains("ApplicationThrottled")
        );
        // Not due yet: a run leaves it.
        assert_eq!(outbox.run_until_empty(&mailer).await.unwrap().sent, 0);
        assert_eq!(outbox.retry_all_deferred().await.unwrap(), 1);
        assert_eq!(outbox.run_until_empty(&mailer).await.unwrap().sent, 1);

        let denied = outbox
            .enqueue(&Message::new(DENIED).to("a@example.com").subject("x"))
            .await
            .unwrap();
        outbox.run_until_empty(&mailer).await.unwrap();
        let failed = outbox.get(&denied).await.unwrap().unwrap();
        assert_eq!(failed.state, QueueState::Failed, "{url}");
        assert!(failed.last_error.unwrap().contains("ErrorAccessDenied"));
        outbox.delete(&denied).await.unwrap();
        assert!(outbox.get(&denied).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_lifetime_past_turns_a_passing_failure_into_a_failure() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        emu.faults(json!({"send": [{"status": 503}]})).await;
        let settings = OutboxSettings {
            lifetime: Duration::from_secs(1),
            ..fast()
        };
        let outbox = Outbox::open_with(url, settings).await.unwrap();
        let id = outbox.enqueue(&invoice(1)).await.unwrap();
        assert_eq!(
            outbox
                .deliver_now(&reading_mailer(&emu, 1), &id)
                .await
                .unwrap(),
            QueueState::Failed,
            "{url}"
        );
        assert!(
            outbox
                .get(&id)
                .await
                .unwrap()
                .unwrap()
                .last_error
                .unwrap()
                .contains("gave up after")
        );
    }
}

#[tokio::test]
async fn two_workers_on_one_queue_keep_within_four_requests_per_mailbox() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        emu.faults(json!({"delay_ms": 150})).await;
        let producer = Outbox::open(url).await.unwrap();
        for n in 0..40 {
            producer.enqueue(&invoice(n)).await.unwrap();
        }
        // Each worker has its own mailer (its own limit of 4), as two
        // servers would; together they would send 3 + 8 at once: only the
        // queue keeps them within 4. The first takes at most 3, so the
        // second always finds room and both work.
        let one = Outbox::open_with(
            url,
            OutboxSettings {
                concurrency: 3,
                ..fast()
            },
        )
        .await
        .unwrap();
        let two = Outbox::open_with(
            url,
            OutboxSettings {
                concurrency: 8,
                ..fast()
            },
        )
        .await
        .unwrap();
        let (m1, m2) = (reading_mailer(&emu, 3), reading_mailer(&emu, 3));
        let (a, b) = tokio::join!(one.run_until_empty(&m1), two.run_until_empty(&m2));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.sent + b.sent, 40, "{url}: {a:?} {b:?}");
        assert!(a.sent > 0 && b.sent > 0, "both worked: {a:?} {b:?}");
        let counters = emu.counters().await;
        assert!(
            counters["max_in_flight"].as_u64().unwrap() <= 4,
            "{counters}"
        );
        assert_eq!(counters["throttled"], 0, "{counters}");
        assert_eq!(deliveries(&emu).await.len(), 40);
    }
}

#[tokio::test]
async fn a_corrupt_or_foreign_file_is_refused_and_names_the_setting() {
    let dir = tempdir::Dir::new();
    let corrupt = dir.0.join("corrupt.db");
    std::fs::write(&corrupt, vec![0x5au8; 8192]).unwrap();
    let e = Outbox::open(&format!("sqlite:{}", corrupt.display()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(e.field(), Some("outbox"));
    assert!(e.message().contains("corrupt.db"), "{e}");

    let foreign = dir.0.join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER)")
        .unwrap();
    let e = Outbox::open(&format!("sqlite:{}", foreign.display()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("another program"), "{e}");

    for bad in ["mysql://x", "sqlite:", "/var/spool/outbox.db"] {
        let e = Outbox::open(bad).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
        assert_eq!(e.field(), Some("outbox"), "{bad}");
    }
    // A queue that was fine keeps its mail across reopening.
    let good = format!("sqlite:{}", dir.0.join("good.db").display());
    let id = Outbox::open(&good)
        .await
        .unwrap()
        .enqueue(&invoice(1))
        .await
        .unwrap();
    let reopened = Outbox::open(&good).await.unwrap();
    assert_eq!(
        reopened.get(&id).await.unwrap().unwrap().state,
        QueueState::Queued
    );
}

#[tokio::test]
async fn the_mailbox_budget_holds_across_workers_and_leaves_the_rest_queued() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        let budget = OutboxSettings {
            mailbox_budget: 5,
            mailbox_budget_window: Duration::from_secs(600),
            ..fast()
        };
        let producer = Outbox::open(url).await.unwrap();
        for n in 0..8 {
            producer.enqueue(&invoice(n)).await.unwrap();
        }
        let one = Outbox::open_with(url, budget.clone()).await.unwrap();
        let two = Outbox::open_with(url, budget.clone()).await.unwrap();
        let (m1, m2) = (reading_mailer(&emu, 3), reading_mailer(&emu, 3));
        let both = async { tokio::join!(one.run_until_empty(&m1), two.run_until_empty(&m2)) };
        let (a, b) = tokio::time::timeout(Duration::from_secs(60), both)
            .await
            .expect("a worker facing a spent budget returns instead of waiting out the window");
        let (a, b) = (a.unwrap(), b.unwrap());
        // Ten servers on one queue draw on one budget: 5 requests in the
        // window, whoever makes them.
        assert_eq!(a.sent + b.sent, 5, "{url}: {a:?} {b:?}");
        assert_eq!(deliveries(&emu).await.len(), 5, "{url}");
        assert_eq!(emu.counters().await["throttled"], 0);
        let stats = producer.stats().await.unwrap();
        assert_eq!(stats.by_state[&QueueState::Queued], 3, "{url}: {stats:?}");
        assert_eq!(stats.by_state[&QueueState::Sent], 5, "{url}: {stats:?}");
    }
}

#[tokio::test]
async fn a_send_that_outlasts_its_lease_keeps_it_and_goes_out_once() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        // Graph holds the send three leases long; a second lane of the same
        // worker looks for due mail all the while, and would find this one
        // if its lease ran out, look in Sent Items too briefly to see the
        // copy still on its way, and send it again.
        emu.faults(json!({"delay_ms": 1800})).await;
        let outbox = Outbox::open_with(
            url,
            OutboxSettings {
                concurrency: 2,
                lease: Duration::from_millis(600),
                reconcile_wait: Duration::from_millis(200),
                ..fast()
            },
        )
        .await
        .unwrap();
        let id = outbox.enqueue(&invoice(1)).await.unwrap();
        let summary = outbox
            .run_until_empty(&reading_mailer(&emu, 1))
            .await
            .unwrap();
        assert_eq!(summary.sent, 1, "{url}: {summary:?}");
        assert_eq!(summary.resent + summary.reconciled, 0, "{url}: {summary:?}");
        let mail = outbox.get(&id).await.unwrap().unwrap();
        assert_eq!(mail.state, QueueState::Sent, "{url}");
        assert_eq!(mail.attempts, 1, "{url}: leased once");
        assert_eq!(
            deliveries(&emu).await.get(&mail.internet_message_id),
            Some(&1),
            "{url}: exactly once"
        );
    }
}

#[tokio::test]
async fn a_refusal_after_an_ambiguous_try_leaves_a_retry_to_look_before_it_resends() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        // The copy reaches Sent Items after the first run has stopped looking.
        emu.settings(json!({"sent_items_lag_ms": 1500})).await;
        // Delivered with its answer lost; the send after the lookup is refused.
        emu.faults(json!({"send": [
            {"drop_after_body": true, "deliver": true},
            {"status": 403},
        ]}))
        .await;
        let settings = |reconcile_wait| OutboxSettings {
            concurrency: 1,
            reconcile_wait,
            ..fast()
        };
        let hasty = Outbox::open_with(url, settings(Duration::from_millis(300)))
            .await
            .unwrap();
        let id = hasty.enqueue(&invoice(1)).await.unwrap();
        let first = hasty
            .run_until_empty(&reading_mailer(&emu, 1))
            .await
            .unwrap();
        assert_eq!(first.failed, 1, "{url}: {first:?}");

        // An operator retries the failed mail: the first try's copy is found.
        hasty.retry(&id).await.unwrap();
        let patient = Outbox::open_with(url, settings(Duration::from_secs(10)))
            .await
            .unwrap();
        let second = patient
            .run_until_empty(&reading_mailer(&emu, 1))
            .await
            .unwrap();
        assert_eq!(second.reconciled, 1, "{url}: {second:?}");
        let mail = patient.get(&id).await.unwrap().unwrap();
        assert_eq!(mail.state, QueueState::Sent, "{url}");
        assert_eq!(
            deliveries(&emu).await.get(&mail.internet_message_id),
            Some(&1),
            "{url}: exactly once"
        );
    }
}

/// The advisory lock a PostgreSQL queue serialises its leases with
/// (`LEASE_LOCK` in core's `postgres.rs`).
const POSTGRES_LEASE_LOCK: i64 = 0x006d_6169_6c6f_7574;

#[tokio::test]
async fn a_lease_cancelled_inside_its_transaction_leaves_no_transaction_behind() {
    let queues = Queues::new().await;
    for url in queues.urls.iter().filter(|u| u.starts_with("postgres")) {
        let emu = TestEmulator::start().await;
        let (other, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let outbox = Outbox::open_with(url, fast()).await.unwrap();
        // Another server holds the lease lock: a worker's lease waits for it
        // inside its transaction, and is cancelled there (a timeout, a
        // cancelled task, Ctrl-C in a binding).
        other
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({POSTGRES_LEASE_LOCK})"
            ))
            .await
            .unwrap();
        let mailer = reading_mailer(&emu, 1);
        let cancelled =
            tokio::time::timeout(Duration::from_millis(300), outbox.run_until_empty(&mailer)).await;
        assert!(cancelled.is_err(), "{url}: the lease waited for the lock");
        other.batch_execute("COMMIT").await.unwrap();

        // Mail queued next is committed (not left inside the cancelled
        // lease's transaction), and the lease lock is free again.
        let id = outbox.enqueue(&invoice(1)).await.unwrap();
        let stored: i64 = other
            .query_one("SELECT COUNT(*) FROM graphmailer_outbox", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            stored, 1,
            "{url}: the queued mail is visible to other sessions"
        );
        let summary =
            tokio::time::timeout(Duration::from_secs(20), outbox.run_until_empty(&mailer))
                .await
                .expect("the lease lock was released")
                .unwrap();
        assert_eq!(summary.sent, 1, "{url}: {summary:?}");
        assert_eq!(
            outbox.get(&id).await.unwrap().unwrap().state,
            QueueState::Sent
        );
    }
}

#[tokio::test]
async fn a_message_id_already_queued_is_replaced_so_sent_items_cannot_mistake_one_mail_for_another()
{
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        let outbox = Outbox::open_with(
            url,
            OutboxSettings {
                concurrency: 1,
                ..fast()
            },
        )
        .await
        .unwrap();
        let mailer = reading_mailer(&emu, 1);
        // One message split over two SMTP transactions (Postfix splits past
        // 50 recipients): the same Message-ID, other recipients.
        let part = |to: &str| {
            MimeMessage::from_bytes(format!(
                "Message-ID: <report-42@contoso.com>\r\nFrom: {ALLOWED}\r\nTo: {to}\r\nSubject: Report\r\n\r\nHello\r\n"
            ))
            .unwrap()
        };
        let first = outbox
            .enqueue_mime(None, &part("a@example.com"))
            .await
            .unwrap();
        assert_eq!(
            outbox.deliver_now(&mailer, &first).await.unwrap(),
            QueueState::Sent
        );
        let second = outbox
            .enqueue_mime(None, &part("b@example.com"))
            .await
            .unwrap();
        // The second's send is lost before Graph took it: the lookup must not
        // find the first's copy and call the second sent.
        emu.faults(json!({"send": [{"drop_after_body": true}]}))
            .await;
        let summary = outbox.run_until_empty(&mailer).await.unwrap();
        assert_eq!(summary.sent, 1, "{url}: {summary:?}");
        assert_eq!(summary.reconciled, 0, "{url}: {summary:?}");
        assert_eq!(summary.resent, 1, "{url}: {summary:?}");
        let a = outbox.get(&first).await.unwrap().unwrap();
        let b = outbox.get(&second).await.unwrap().unwrap();
        assert_eq!(a.internet_message_id, "<report-42@contoso.com>", "{url}");
        assert_ne!(b.internet_message_id, a.internet_message_id, "{url}");
        assert_eq!(b.state, QueueState::Sent, "{url}");
        let seen = deliveries(&emu).await;
        assert_eq!(
            seen.get(&a.internet_message_id),
            Some(&1),
            "{url}: {seen:?}"
        );
        assert_eq!(
            seen.get(&b.internet_message_id),
            Some(&1),
            "{url}: {seen:?}"
        );
        let messages = emu.messages().await;
        assert!(
            messages.iter().all(|m| m["message"]["subject"] == "Report"),
            "{url}: the renamed message is otherwise the same"
        );
    }
}

#[tokio::test]
async fn the_immediate_try_leaves_an_ambiguous_send_to_a_worker_instead_of_resending() {
    let queues = Queues::new().await;
    for url in &queues.urls {
        let emu = TestEmulator::start().await;
        // Delivered with its answer lost; the copy reaches Sent Items later
        // than a worker would look (as under a slow Exchange).
        emu.settings(json!({"sent_items_lag_ms": 1500})).await;
        emu.faults(json!({"send": [{"drop_after_body": true, "deliver": true}]}))
            .await;
        let settings = |reconcile_wait| OutboxSettings {
            concurrency: 1,
            reconcile_wait,
            ..fast()
        };
        let outbox = Outbox::open_with(url, settings(Duration::from_millis(300)))
            .await
            .unwrap();
        let id = outbox.enqueue(&invoice(1)).await.unwrap();
        // `sendmail`'s try: no lookup (which would have found nothing yet)
        // and no second send while its caller waits.
        assert_eq!(
            outbox
                .deliver_now(&reading_mailer(&emu, 1), &id)
                .await
                .unwrap(),
            QueueState::Deferred,
            "{url}"
        );
        assert_eq!(emu.counter("send_requests").await, 1, "{url}");
        // A worker looks it up first and finds it.
        outbox.retry(&id).await.unwrap();
        let patient = Outbox::open_with(url, settings(Duration::from_secs(10)))
            .await
            .unwrap();
        let summary = patient
            .run_until_empty(&reading_mailer(&emu, 1))
            .await
            .unwrap();
        assert_eq!(summary.reconciled, 1, "{url}: {summary:?}");
        let mail = patient.get(&id).await.unwrap().unwrap();
        assert_eq!(mail.state, QueueState::Sent);
        assert_eq!(
            deliveries(&emu).await.get(&mail.internet_message_id),
            Some(&1),
            "{url}: exactly once"
        );
    }
}
