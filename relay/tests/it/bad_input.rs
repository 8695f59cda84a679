//! What a careless or hostile client gets: each bad input its own reply
//! code, the relay still serving others, and nothing accepted lost.

use crate::common;

use std::time::Duration;

use common::{Client, start};
use graphmailer_relay::ListenerMode;

const SMALL_LIMITS: &str = r#"
[limits]
max_message_bytes = 4096
command_timeout_seconds = 1
data_timeout_seconds = 1

[lockout]
max_failures = 3
"#;

async fn greeted(s: &common::Setup) -> Client<tokio::net::TcpStream> {
    let mut c = Client::connect(s.addr(ListenerMode::Starttls)).await;
    c.expect(220).await;
    c.command("EHLO client.test").await.expect_code(250);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_before_starttls_is_refused_with_538() {
    let s = start("auth-plain", "").await;
    let mut c = greeted(&s).await;
    c.command(&format!("AUTH PLAIN {}", s.plain_auth()))
        .await
        .expect_code(538)
        .expect_text("5.7.11");
    c.command("AUTH LOGIN").await.expect_code(538);
    c.command("NOOP").await.expect_code(250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_get_535_then_the_address_is_locked_out() {
    use base64::Engine;
    let s = start("lockout", SMALL_LIMITS).await;
    let wrong = base64::engine::general_purpose::STANDARD.encode(format!("\0{}\0nope", s.user));
    let mut c = greeted(&s).await;
    c.command("STARTTLS").await.expect_code(220);
    let mut c = c.start_tls(&s).await;
    c.command("EHLO client.test").await.expect_code(250);
    for _ in 0..3 {
        c.command(&format!("AUTH PLAIN {wrong}"))
            .await
            .expect_code(535)
            .expect_text("5.7.8");
    }
    // Locked: even the right password is not checked now.
    c.command(&format!("AUTH PLAIN {}", s.plain_auth()))
        .await
        .expect_code(454)
        .expect_text("4.7.0");
    let unknown = base64::engine::general_purpose::STANDARD.encode("\0nobody\0x");
    c.command(&format!("AUTH PLAIN {unknown}"))
        .await
        .expect_code(454);
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("graphmailer_smtp_auth_failures_total 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("graphmailer_smtp_lockouts_total 1\n"),
        "{metrics}"
    );
    assert!(!metrics.contains("nope"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlong_commands_and_lines_are_refused_and_the_session_goes_on() {
    let s = start("long", "").await;
    let mut c = s.logged_in().await;
    let long = format!("NOOP {}", "x".repeat(5000));
    c.command(&long)
        .await
        .expect_code(500)
        .expect_text("line too long");
    c.command("NOOP").await.expect_code(250);
    let body = format!(
        "From: {}\r\nSubject: long\r\n\r\n{}\r\n",
        s.allowed,
        "y".repeat(1200)
    );
    c.send_mail(&s.allowed, &["a@fabrikam.example"], &body)
        .await
        .expect_code(554)
        .expect_text("longer than 1000");
    let ok = format!("From: {}\r\nSubject: after\r\n\r\nfine\r\n", s.allowed);
    c.send_mail(&s.allowed, &["a@fabrikam.example"], &ok)
        .await
        .expect_code(250);
    let all = s.wait_for_messages(1).await;
    assert_eq!(all.len(), 1, "only the good message went out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_size_gets_552_whether_declared_or_not() {
    let s = start("size", SMALL_LIMITS).await;
    let mut c = s.logged_in().await;
    c.command(&format!("MAIL FROM:<{}> SIZE=5000", s.allowed))
        .await
        .expect_code(552)
        .expect_text("5.3.4");
    let big = format!(
        "From: {}\r\nSubject: big\r\n\r\n{}",
        s.allowed,
        "z".repeat(70)
            .repeat(80)
            .as_str()
            .chars()
            .collect::<Vec<_>>()
            .chunks(70)
            .map(|c| c.iter().collect::<String>() + "\r\n")
            .collect::<String>()
    );
    c.send_mail(&s.allowed, &["a@fabrikam.example"], &big)
        .await
        .expect_code(552)
        .expect_text("5.3.4");
    c.command("NOOP").await.expect_code(250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_lf_cannot_end_the_data_so_no_second_message_is_smuggled() {
    let s = start("barelf", "").await;
    let mut c = s.logged_in().await;
    c.open_data(&s.allowed, &["a@fabrikam.example"]).await;
    // A smuggling attempt: a bare-LF "end of data", then a second
    // transaction as someone the client may not send as.
    c.send_raw(
        format!(
            "From: {}\r\nSubject: one\r\n\r\nbody\n.\nMAIL FROM:<{}>\r\nRCPT TO:<victim@fabrikam.example>\r\nDATA\r\n",
            s.allowed, s.denied
        )
        .as_bytes(),
    )
    .await;
    // Only CRLF.CRLF ends it: one message, one reply.
    c.send_raw(b"tail\r\n.\r\n").await;
    c.expect(250).await.expect_text("queued as");
    c.command("NOOP").await.expect_code(250);
    let all = s.wait_for_messages(1).await;
    assert_eq!(all.len(), 1);
    let mime = all[0]["mime"].as_str().unwrap_or_default();
    assert!(
        mime.contains("body\r\n\r\nMAIL FROM:"),
        "the smuggled commands stayed text, lines ending in CRLF: {mime}"
    );
    assert_eq!(common::recipients(&all[0]), ["a@fabrikam.example"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_are_refused_in_data_and_in_commands() {
    let s = start("nul", "").await;
    let mut c = s.logged_in().await;
    c.send_raw(b"NOOP a\0b\r\n").await;
    c.expect(500).await;
    let body = format!("From: {}\r\nSubject: nul\r\n\r\nbad \0 byte\r\n", s.allowed);
    c.send_mail(&s.allowed, &["a@fabrikam.example"], &body)
        .await
        .expect_code(554)
        .expect_text("NUL");
    c.command("NOOP").await.expect_code(250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_injection_through_the_envelope_is_refused() {
    let s = start("inject", "").await;
    let mut c = s.logged_in().await;
    c.command(&format!("MAIL FROM:<{}>", s.allowed))
        .await
        .expect_code(250);
    // A bare CR inside the command, hoping to start a Bcc header.
    c.send_raw(b"RCPT TO:<a@fabrikam.example>\rBcc: evil@attacker.example\r\n")
        .await;
    c.expect(500).await;
    // Two addresses in one RCPT.
    c.command("RCPT TO:<a@fabrikam.example,evil@attacker.example>")
        .await
        .expect_code(501);
    c.command("RCPT TO:<a@fabrikam.example>")
        .await
        .expect_code(250);
    c.command("DATA").await.expect_code(354);
    c.send_raw(
        format!(
            "From: {}\r\nSubject: hi\r\nBcc: evil@attacker.example\r\n\r\nx\r\n.\r\n",
            s.allowed
        )
        .as_bytes(),
    )
    .await;
    c.expect(250).await;
    let all = s.wait_for_messages(1).await;
    let text = all[0]["message"].to_string();
    assert!(!text.contains("evil@attacker.example"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_gets_421_after_the_timeout() {
    let s = start("slow", SMALL_LIMITS).await;
    let mut idle = greeted(&s).await;
    let started = std::time::Instant::now();
    idle.expect(421).await.expect_text("4.4.2");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // Stalling inside DATA is timed out as well, and nothing is queued.
    let mut c = s.logged_in().await;
    c.open_data(&s.allowed, &["a@fabrikam.example"]).await;
    c.send_raw(b"Subject: half\r\n").await;
    c.expect(421).await;
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("graphmailer_messages_total{result=\"accepted\"} 0\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_out_of_order_commands_get_5xx() {
    let s = start("order", "").await;
    let mut c = Client::connect(s.addr(ListenerMode::Starttls)).await;
    c.expect(220).await;
    c.command("MAIL FROM:<a@b.example>").await.expect_code(503);
    c.command("XYZZY").await.expect_code(500);
    c.command("EHLO").await.expect_code(501);
    c.command("EHLO client.test").await.expect_code(250);
    c.command("RCPT TO:<a@b.example>").await.expect_code(503);
    c.command("DATA").await.expect_code(503);
    c.command("BDAT 10 LAST").await.expect_code(502);
    c.command("QUIT").await.expect_code(221);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_at_once_are_each_greeted_and_served() {
    const N: usize = 1000;
    let s = start("many", "").await;
    let addr = s.addr(ListenerMode::Starttls);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..N {
        tasks.spawn(async move {
            let mut c = Client::connect(addr).await;
            let greeting = c.reply().await.code;
            let ehlo = c.command("EHLO many.test").await.code;
            let quit = c.command("QUIT").await.code;
            (greeting, ehlo, quit)
        });
    }
    let mut outcomes = std::collections::BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        *outcomes.entry(r.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(outcomes.get(&(220, 250, 221)), Some(&N), "{outcomes:?}");
    // And mail still goes through.
    let mut c = s.logged_in().await;
    let body = format!(
        "From: {}\r\nSubject: after the crowd\r\n\r\nx\r\n",
        s.allowed
    );
    c.send_mail(&s.allowed, &["a@fabrikam.example"], &body)
        .await
        .expect_code(250);
    s.wait_for_messages(1).await;
    let metrics = s.metrics().await;
    assert!(
        metrics.contains(&format!("graphmailer_smtp_connections_total {}\n", N + 1)),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_limit_a_client_hears_421() {
    let s = start("limit", "[limits]\nmax_connections = 2\n").await;
    let mut a = Client::connect(s.addr(ListenerMode::Starttls)).await;
    a.expect(220).await;
    let mut b = Client::connect(s.addr(ListenerMode::Starttls)).await;
    b.expect(220).await;
    let mut c = Client::connect(s.addr(ListenerMode::Starttls)).await;
    c.expect(421).await;
    a.command("QUIT").await.expect_code(221);
    b.command("NOOP").await.expect_code(250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lf_dot_crlf_cannot_end_the_data_so_no_second_message_is_smuggled() {
    let s = start("lfdotcrlf", "").await;
    let mut c = s.logged_in().await;
    c.open_data(&s.allowed, &["a@fabrikam.example"]).await;
    // "<LF>.<CR><LF>" ends the data for a server that takes a bare LF as a
    // line end; here the second transaction must stay text.
    c.send_raw(
        format!(
            "From: {a}\r\nSubject: one\r\n\r\nbody\n.\r\nMAIL FROM:<{a}>\r\nRCPT TO:<victim@fabrikam.example>\r\nDATA\r\nFrom: {a}\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n",
            a = s.allowed
        )
        .as_bytes(),
    )
    .await;
    c.expect(250).await.expect_text("queued as");
    c.command("NOOP")
        .await
        .expect_code(250)
        .expect_text("2.0.0 OK");
    let all = s.wait_for_messages(1).await;
    let mime = all[0]["mime"].as_str().unwrap_or_default();
    assert!(
        mime.contains("body\r\n\r\nMAIL FROM:") && mime.contains("RCPT TO:<victim@"),
        "the smuggled commands are inside the message: {mime}"
    );
    assert_eq!(common::recipients(&all[0]), ["a@fabrikam.example"]);
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("graphmailer_messages_total{result=\"accepted\"} 1\n"),
        "one message accepted: {metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dot_after_a_bare_lf_a_bare_cr_or_an_overlong_line_does_not_end_the_data() {
    let s = start("lonedots", "").await;
    let mut c = s.logged_in().await;
    c.open_data(&s.allowed, &["a@fabrikam.example"]).await;
    c.send_raw(
        format!(
            "From: {}\r\nSubject: dots\r\n\r\nx\r\n.\ny\n.\nz\r.\r\nend\r\n.\r\n",
            s.allowed
        )
        .as_bytes(),
    )
    .await;
    c.expect(250).await.expect_text("queued as");
    c.command("NOOP")
        .await
        .expect_code(250)
        .expect_text("2.0.0 OK");
    // An overlong line is dropped, but its bare LF still counts: the dot
    // after it is text, and so is the command after that.
    c.open_data(&s.allowed, &["a@fabrikam.example"]).await;
    c.send_raw(
        format!(
            "From: {}\r\nSubject: long\r\n\r\n{}\n.\r\nHELP\r\n.\r\n",
            s.allowed,
            "y".repeat(1200)
        )
        .as_bytes(),
    )
    .await;
    c.expect(554).await.expect_text("longer than 1000");
    c.command("NOOP")
        .await
        .expect_code(250)
        .expect_text("2.0.0 OK");
    let all = s.wait_for_messages(1).await;
    let mime = all[0]["mime"].as_str().unwrap_or_default();
    assert!(
        mime.contains("\r\ny\r\n") && mime.contains("end\r\n"),
        "{mime}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_the_rewrite_takes_over_the_mime_limit_gets_552_not_250() {
    // The default SIZE is the most Graph's MIME sendMail takes, and large
    // messages are off: headers added after DATA must not make a message
    // that was answered 250 fail in the queue.
    let s = start("growth", "").await;
    let size = graphmailer::limits::MAX_MIME_BYTES - 64;
    let mut message = format!("From: {}\r\nSubject: near the limit\r\n\r\n", s.allowed);
    let line = format!("{}\r\n", "x".repeat(998));
    while message.len() + line.len() <= size {
        message.push_str(&line);
    }
    message.push_str(&line[line.len() - (size - message.len())..]);
    assert_eq!(message.len(), size);
    let mut c = s.logged_in().await;
    c.send_mail(&s.allowed, &["a@fabrikam.example"], &message)
        .await
        .expect_code(552)
        .expect_text("5.3.4");
    c.command("NOOP").await.expect_code(250);
    let metrics = s.metrics().await;
    let queued: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("graphmailer_queue_messages{"))
        .collect();
    assert!(
        !queued.is_empty() && queued.iter().all(|l| l.ends_with(" 0")),
        "nothing queued: {metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_in_an_auth_exchange_gets_421_and_is_disconnected() {
    let s = start("authsilence", SMALL_LIMITS).await;
    let mut c = greeted(&s).await;
    c.command("STARTTLS").await.expect_code(220);
    let mut c = c.start_tls(&s).await;
    c.command("EHLO client.test").await.expect_code(250);
    c.command("AUTH LOGIN").await.expect_code(334);
    c.expect(421).await.expect_text("4.4.2");
    assert_eq!(c.reply().await.code, 0, "the relay closed the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_replies_is_disconnected_after_the_timeout() {
    use tokio::io::AsyncWriteExt;
    let s = start("noreader", SMALL_LIMITS).await;
    // A small window so the relay's replies back up quickly.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket
        .connect(s.addr(ListenerMode::Starttls))
        .await
        .unwrap();
    let batch = "EHLO a\r\n".repeat(1024);
    let pipelining = async { while stream.write_all(batch.as_bytes()).await.is_ok() {} };
    assert!(
        tokio::time::timeout(Duration::from_secs(5), pipelining)
            .await
            .is_ok(),
        "the relay still holds the connection of a client that reads nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_cr_in_the_header_block_is_refused_so_no_header_hides_in_another() {
    let s = start("headercr", "").await;
    let mut c = s.logged_in().await;
    // A reader further on that took the CR for a line end would see a From
    // and a Bcc that no check here saw.
    let body = format!(
        "From: {}\r\nSubject: hi\rFrom: ceo@contoso.test\rBcc: evil@attacker.example\r\n\r\nx\r\n",
        s.allowed
    );
    c.send_mail(&s.allowed, &["a@fabrikam.example"], &body)
        .await
        .expect_code(554)
        .expect_text("carriage return");
    let ok = format!("From: {}\r\nSubject: after\r\n\r\nfine\r\n", s.allowed);
    c.send_mail(&s.allowed, &["a@fabrikam.example"], &ok)
        .await
        .expect_code(250);
    let all = s.wait_for_messages(1).await;
    assert_eq!(all.len(), 1, "only the good message went out");
}
