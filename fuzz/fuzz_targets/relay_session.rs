//! What a stranger's SMTP client may send the relay: any bytes, after the
//! greeting, on a plain listener open to loopback's network. The relay must
//! answer every line with an SMTP reply, end the session when the client
//! does, and have queued every message it said it queued. A panic in a
//! session's task aborts the process, so the fuzzer sees it.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use graphmailer::{Config, Mailer, Outbox, QueueId};
use graphmailer_relay::{ListenerMode, Relay, RelayConfig};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Harness {
    runtime: tokio::runtime::Runtime,
    address: SocketAddr,
    outbox: Outbox,
    _relay: Relay,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        std::panic::set_hook(Box::new(|info| {
            eprintln!("{info}");
            std::process::abort();
        }));
        let dir =
            std::env::temp_dir().join(format!("graphmailer-fuzz-relay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("outbox.db").display());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (relay, outbox) = runtime.block_on(async {
            let config = RelayConfig::from_toml(&format!(
                r#"
hostname = "relay.test"
[limits]
max_message_bytes = 65536
[[listener]]
address = "127.0.0.1:0"
mode = "plain"
[[mailer]]
name = "contoso"
outbox = "{url}"
[[network]]
cidr = "127.0.0.0/8"
mailer = "contoso"
may_send_as = ["@contoso.test"]
"#
            ))
            .unwrap();
            // Graph is a closed port: queued mail stays queued.
            let mailer = Mailer::new(
                Config::builder()
                    .tenant_id("11111111-2222-3333-4444-555555555555")
                    .client_id("66666666-7777-8888-9999-000000000000")
                    .client_secret("fuzz-secret-value")
                    .authority_host("https://127.0.0.1:9")
                    .graph_endpoint("https://127.0.0.1:9")
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let relay = Relay::start_with_mailers(config, vec![mailer])
                .await
                .unwrap();
            (relay, Outbox::open(&url).await.unwrap())
        });
        Harness {
            address: relay.address(ListenerMode::Plain).unwrap(),
            runtime,
            outbox,
            _relay: relay,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let replies = h.runtime.block_on(async {
        let mut stream = TcpStream::connect(h.address).await.unwrap();
        let (mut read, mut write) = stream.split();
        let client = async {
            // The relay may close first (421 after too many errors): the
            // rest of the input then has nowhere to go.
            let _ = write.write_all(data).await;
            let _ = write.shutdown().await;
        };
        // A reset after the relay's 421 is a way to end too: what was read
        // before it is checked all the same.
        let mut replies = Vec::new();
        let server = async {
            let _ = read.read_to_end(&mut replies).await;
        };
        tokio::time::timeout(Duration::from_secs(20), async {
            tokio::join!(client, server)
        })
        .await
        .expect("the session did not end after the client closed");
        replies
    });
    let text = String::from_utf8(replies).expect("a reply that is not UTF-8");
    assert!(
        text.ends_with("\r\n") || text.is_empty(),
        "a cut reply: {text:?}"
    );
    for line in text.split_terminator("\r\n") {
        let b = line.as_bytes();
        assert!(
            b.len() >= 4
                && b[..3].iter().all(u8::is_ascii_digit)
                && (b[3] == b' ' || b[3] == b'-')
                && (b'2'..=b'5').contains(&b[0]),
            "not an SMTP reply: {line:?}"
        );
        if let Some(id) = line.strip_prefix("250 2.0.0 queued as ") {
            let id: QueueId = id.parse().expect("a queue id");
            let stored = h.runtime.block_on(h.outbox.get(&id)).unwrap();
            assert!(
                stored.is_some(),
                "said queued as {id} but the outbox has no such mail"
            );
        }
    }
});
