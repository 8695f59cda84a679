//! SMTP sessions against a running relay and emulator: the happy paths,
//! who may send as whom, and the envelope deciding the recipients.

use crate::common;

use common::{Client, start};
use graphmailer_relay::ListenerMode;

fn message(from: &str, to: &str, subject: &str) -> String {
    format!("From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello from the printer.\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_login_and_send_is_queued_then_delivered() {
    let s = start("happy", "").await;
    let mut c = s.logged_in().await;
    let reply = c
        .send_mail(
            &s.allowed,
            &["ap@fabrikam.example"],
            &message(&s.allowed, "ap@fabrikam.example", "Scan 1"),
        )
        .await;
    reply.expect_code(250).expect_text("2.0.0 queued as ");
    c.command("QUIT").await.expect_code(221);
    let messages = s.wait_for_messages(1).await;
    assert_eq!(messages[0]["mailbox"], s.allowed.as_str());
    assert_eq!(messages[0]["message"]["subject"], "Scan 1");
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("graphmailer_messages_total{result=\"accepted\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("graphmailer_smtp_connections_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("graphmailer_queue_messages{state=\"queued\"}"),
        "{metrics}"
    );
    assert!(!metrics.contains(&s.allowed), "no addresses in metrics");
    // The queue worker's send is counted as a Graph request, as a direct one is.
    let counted = "graphmailer_graph_requests_total{status=\"202\"} 1\n";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut metrics = metrics;
    while !metrics.contains(counted) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        metrics = s.metrics().await;
    }
    assert!(metrics.contains(counted), "{metrics}");
    assert!(
        metrics.contains("graphmailer_graph_request_duration_seconds_count 1\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ehlo_reply_lists_the_extensions_and_auth_only_after_tls() {
    let s = start("ehlo", "").await;
    let mut c = Client::connect(s.addr(ListenerMode::Starttls)).await;
    c.expect(220).await;
    let ehlo = c.command("EHLO client.test").await;
    for ext in [
        "SIZE 3145728",
        "PIPELINING",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
    ] {
        ehlo.expect_text(ext);
    }
    assert!(
        !ehlo.text.contains("AUTH"),
        "no AUTH before TLS: {}",
        ehlo.text
    );
    c.command("STARTTLS").await.expect_code(220);
    let mut tls = c.start_tls(&s).await;
    let ehlo = tls.command("EHLO client.test").await;
    ehlo.expect_text("AUTH PLAIN LOGIN");
    assert!(!ehlo.text.contains("STARTTLS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_login_works_on_implicit_tls() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let s = start("login", "").await;
    let tcp = tokio::net::TcpStream::connect(s.addr(ListenerMode::Tls))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = s.tls_connector().connect(name, tcp).await.unwrap();
    let mut c = Client {
        stream: tokio::io::BufReader::new(tls),
    };
    c.expect(220).await;
    c.command("EHLO client.test").await.expect_code(250);
    c.command("AUTH LOGIN")
        .await
        .expect_code(334)
        .expect_text("VXNlcm5hbWU6");
    c.command(&b64(&s.user)).await.expect_code(334);
    c.command(&b64(&s.password)).await.expect_code(235);
    c.send_mail(
        &s.allowed,
        &["ap@fabrikam.example"],
        &message(&s.allowed, "ap@fabrikam.example", "Over 465"),
    )
    .await
    .expect_code(250);
    s.wait_for_messages(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_not_allowed_is_refused_at_mail_from_and_in_the_from_header() {
    let s = start("senders", "").await;
    let mut c = s.logged_in().await;
    c.command(&format!("MAIL FROM:<{}>", s.denied))
        .await
        .expect_code(550)
        .expect_text("5.7.1");
    // Allowed envelope, forbidden From header: refused at the end of DATA.
    let reply = c
        .send_mail(
            &s.allowed,
            &["ap@fabrikam.example"],
            &message(
                &format!("CEO <{}>", s.denied),
                "ap@fabrikam.example",
                "Wire",
            ),
        )
        .await;
    reply.expect_code(550).expect_text("5.7.1");
    // A second From address is checked as well as the first.
    let reply = c
        .send_mail(
            &s.allowed,
            &["ap@fabrikam.example"],
            &message(
                &format!("{}, {}", s.allowed, s.denied),
                "ap@fabrikam.example",
                "Wire",
            ),
        )
        .await;
    reply.expect_code(550);
    c.command("MAIL FROM:<>").await.expect_code(550);
    // The session goes on: a proper message still works.
    c.send_mail(
        &s.allowed,
        &["ap@fabrikam.example"],
        &message(&s.allowed, "ap@fabrikam.example", "Fine"),
    )
    .await
    .expect_code(250);
    let all = s.wait_for_messages(1).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["message"]["subject"], "Fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_login_a_client_must_start_tls_or_come_from_a_listed_network() {
    let s = start("nologin", "").await;
    let mut c = Client::connect(s.addr(ListenerMode::Starttls)).await;
    c.expect(220).await;
    c.command("EHLO client.test").await.expect_code(250);
    c.command(&format!("MAIL FROM:<{}>", s.allowed))
        .await
        .expect_code(530);
    let mut p = Client::connect(s.addr(ListenerMode::Plain)).await;
    p.expect(220).await;
    p.command("EHLO client.test").await.expect_code(250);
    p.command(&format!("MAIL FROM:<{}>", s.allowed))
        .await
        .expect_code(530)
        .expect_text("authentication required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_network_relays_without_login_as_its_own_mailboxes_only() {
    let extra = r#"
[[network]]
cidr = "127.0.0.0/8"
mailer = "contoso"
may_send_as = ["erp@contoso.test"]
"#;
    let s = start("network", extra).await;
    let mut p = Client::connect(s.addr(ListenerMode::Plain)).await;
    p.expect(220).await;
    let ehlo = p.command("EHLO printer.test").await;
    assert!(!ehlo.text.contains("AUTH"), "plain listener offers no AUTH");
    p.command("MAIL FROM:<ceo@contoso.test>")
        .await
        .expect_code(550)
        .expect_text("network 127.0.0.0/8");
    p.send_mail(
        "erp@contoso.test",
        &["ap@fabrikam.example"],
        &message(
            "erp@contoso.test",
            "ap@fabrikam.example",
            "From the network",
        ),
    )
    .await
    .expect_code(250);
    s.wait_for_messages(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_envelope_decides_the_recipients() {
    let s = start("envelope", "").await;
    let mut c = s.logged_in().await;
    // Bcc-only: no To or Cc header at all.
    let bcc_only = format!("From: {}\r\nSubject: Bcc only\r\n\r\nquiet\r\n", s.allowed);
    c.send_mail(&s.allowed, &["hidden@fabrikam.example"], &bcc_only)
        .await
        .expect_code(250);
    // A header recipient not in the envelope is not mailed, and a display
    // name holding an @ is not taken for the address.
    let tricky = format!(
        "From: \"Accounts erp@contoso.test\" <{}>\r\nTo: \"boss@fabrikam.example\" <ap@fabrikam.example>, notme@fabrikam.example\r\nSubject: Tricky\r\n\r\nbody\r\n",
        s.allowed
    );
    c.send_mail(&s.allowed, &["ap@fabrikam.example"], &tricky)
        .await
        .expect_code(250);
    let all = s.wait_for_messages(2).await;
    let recipients = |subject: &str| -> Vec<String> {
        let m = all
            .iter()
            .find(|m| m["message"]["subject"] == subject)
            .unwrap_or_else(|| panic!("{subject} did not arrive"));
        common::recipients(m)
    };
    assert_eq!(recipients("Bcc only"), ["hidden@fabrikam.example"]);
    assert_eq!(recipients("Tricky"), ["ap@fabrikam.example"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_get_their_replies_in_order() {
    let s = start("pipelining", "").await;
    let mut c = s.logged_in().await;
    let batch = format!(
        "MAIL FROM:<{}>\r\nRCPT TO:<a@fabrikam.example>\r\nRCPT TO:<b@fabrikam.example>\r\nDATA\r\n",
        s.allowed
    );
    c.send_raw(batch.as_bytes()).await;
    c.expect(250).await;
    c.expect(250).await;
    c.expect(250).await;
    c.expect(354).await;
    c.send_raw(
        format!(
            "From: {}\r\nSubject: piped\r\n\r\n..dot line\r\n.\r\nQUIT\r\n",
            s.allowed
        )
        .as_bytes(),
    )
    .await;
    c.expect(250).await;
    c.expect(221).await;
    let all = s.wait_for_messages(1).await;
    let mime = all[0]["mime"].as_str().unwrap_or_default();
    assert!(mime.contains("\r\n.dot line\r\n"), "dot unstuffed: {mime}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_from_or_sender_header_is_refused_whoever_it_names() {
    let s = start("twofrom", "").await;
    let mut c = s.logged_in().await;
    // Parsers disagree on which of two From headers counts: the check must
    // not pass the last while Graph is shown the first.
    let two_from = format!(
        "From: CEO <{}>\r\nFrom: {}\r\nTo: ap@fabrikam.example\r\nSubject: Wire\r\n\r\npay\r\n",
        s.denied, s.allowed
    );
    c.send_mail(&s.allowed, &["ap@fabrikam.example"], &two_from)
        .await
        .expect_code(554)
        .expect_text("5.6.0")
        .expect_text("more than one From header");
    let two_senders = format!(
        "From: {a}\r\nSender: {d}\r\nSender: {a}\r\nTo: ap@fabrikam.example\r\nSubject: Wire\r\n\r\npay\r\n",
        a = s.allowed,
        d = s.denied
    );
    c.send_mail(&s.allowed, &["ap@fabrikam.example"], &two_senders)
        .await
        .expect_code(554)
        .expect_text("more than one Sender header");
    c.command("NOOP").await.expect_code(250);
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("graphmailer_messages_total{result=\"accepted\"} 0\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_without_angle_brackets_are_taken_as_printers_write_them() {
    let s = start("bare", "").await;
    let mut c = s.logged_in().await;
    c.command(&format!("MAIL FROM: {} SIZE=100", s.allowed))
        .await
        .expect_code(250);
    c.command("rcpt to:a@fabrikam.example")
        .await
        .expect_code(250);
    c.command("DATA").await.expect_code(354);
    c.send_raw(format!("From: {}\r\nSubject: scan\r\n\r\nx\r\n.\r\n", s.allowed).as_bytes())
        .await;
    c.expect(250).await.expect_text("queued as");
    let all = s.wait_for_messages(1).await;
    assert_eq!(common::recipients(&all[0]), ["a@fabrikam.example"]);
    // What is refused stays refused: an empty path, and a bad address.
    c.command("MAIL FROM:").await.expect_code(501);
}
