//! `graphmailer demo`: the whole story on a fresh machine, offline. An
//! embedded emulator plays Microsoft 365; the app may send as erp@ (the
//! tenant's access policy allows it) and must be refused for the CEO's mailbox.

use std::process::ExitCode;
use std::time::Instant;

use graphmailer::{Config, ErrorKind, Message, blocking};
use serde_json::Value;

pub fn run() -> ExitCode {
    match demo() {
        Ok(()) => {
            println!(
                "\nDemo complete: the permitted sender works, the CEO's mailbox is refused twice over, verify proves it, and a 12 MB report goes out through upload sessions."
            );
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("\ndemo failed: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn step(n: u8, text: &str) {
    println!("\n[{n}/7] {text}");
}

fn demo() -> Result<(), String> {
    let started = Instant::now();
    step(
        1,
        "Starting a local Microsoft 365 emulator (identity platform + Graph, HTTPS)...",
    );
    let emulator = blocking::runtime()
        .block_on(graphmailer_emulator::start(
            graphmailer_emulator::Options::default(),
        ))
        .map_err(|e| format!("the emulator did not start: {e}"))?;
    let banner = serde_json::to_value(emulator.banner()).map_err(|e| e.to_string())?;
    let field = |name: &str| banner[name].as_str().unwrap_or_default().to_owned();
    let (allowed, denied) = (field("allowed_sender"), field("denied_sender"));
    println!(
        "      listening on {} (CA certificate: {})",
        emulator.url(),
        field("ca_file")
    );
    println!(
        "      tenant {}, app {}",
        field("tenant_id"),
        field("client_id")
    );
    println!("      the tenant's access policy lets the app send as {allowed} only");

    let config = |allowlist: &[&str]| {
        Config::builder()
            .tenant_id(field("tenant_id"))
            .client_id(field("client_id"))
            .client_secret(field("client_secret"))
            .authority_host(emulator.url())
            .graph_endpoint(emulator.url())
            .ca_bundle_pem(emulator.ca_pem().unwrap_or_default().as_bytes().to_vec())
            .allowed_senders(allowlist.iter().copied())
            .build()
    };
    let mailer = blocking::Mailer::new(config(&[]).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;

    step(2, &format!("Sending an invoice as {allowed}..."));
    let message = Message::new(&allowed)
        .to(("Accounts Payable", "ap@fabrikam.example"))
        .subject("Invoice 4711")
        .html("<p>Dear customer, please find invoice <b>4711</b> attached.</p>")
        .attach(graphmailer::Attachment::from_bytes(
            "invoice-4711.txt",
            "Invoice 4711: EUR 1,234.00",
        ));
    let receipt = mailer
        .send(&message)
        .map_err(|e| format!("the permitted send failed:\n{e}"))?;
    println!(
        "      accepted by Graph (202), request id {}",
        receipt.request_id.as_deref().unwrap_or("-")
    );

    step(3, "Reading it back from the emulator's mailbox store...");
    let stored = serde_json::to_value(emulator.messages()).map_err(|e| e.to_string())?;
    let last = stored
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or(Value::Null);
    if last.is_null() {
        return Err("the emulator stored no message".into());
    }
    println!(
        "      from {} to {}: \"{}\" with {} attachment(s)",
        last["mailbox"].as_str().unwrap_or("?"),
        last["message"]["toRecipients"][0]["emailAddress"]["address"]
            .as_str()
            .unwrap_or("?"),
        last["message"]["subject"].as_str().unwrap_or("?"),
        last["message"]["attachments"]
            .as_array()
            .map_or(0, |a| a.len())
    );

    step(
        4,
        &format!("Trying to send as {denied}, which the tenant's policy does not allow..."),
    );
    match mailer.send(
        &Message::new(&denied)
            .to("everyone@contoso.test")
            .subject("Wire transfer")
            .text("Urgent"),
    ) {
        Err(e) if e.kind() == ErrorKind::AccessDenied => {
            println!("      refused, as it should be: {}", e.message());
            println!(
                "      code {}, request id {}",
                e.code().unwrap_or("-"),
                e.request_id().unwrap_or("-")
            );
            println!("      hint: {}", e.hint().unwrap_or("-"));
        }
        Err(e) => return Err(format!("expected access denied, got:\n{e}")),
        Ok(_) => {
            return Err(format!(
                "the emulator let the app send as {denied}: the restriction does not hold"
            ));
        }
    }

    step(
        5,
        &format!(
            "The same with the local allowlist set to {allowed}: refused before any network call..."
        ),
    );
    let guarded = blocking::Mailer::new(config(&[&allowed]).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    match guarded.send(
        &Message::new(&denied)
            .to("everyone@contoso.test")
            .subject("Wire transfer")
            .text("Urgent"),
    ) {
        Err(e) if e.kind() == ErrorKind::SenderNotAllowed => {
            println!("      refused locally: {}", e.message());
            println!("      hint: {}", e.hint().unwrap_or("-"));
            println!(
                "      token requests made by this mailer: {}",
                guarded.as_async().token_requests()
            );
        }
        Err(e) => return Err(format!("expected sender not allowed, got:\n{e}")),
        Ok(_) => return Err("the allowlist let the CEO's mailbox through".into()),
    }
    step(
        6,
        "What an administrator runs after restricting the app: graphmailer verify...",
    );
    let verification = mailer
        .verify(
            std::slice::from_ref(&allowed),
            std::slice::from_ref(&denied),
        )
        .map_err(|e| e.to_string())?;
    for line in crate::verify::table(&verification).lines() {
        if line.is_empty() {
            println!();
        } else {
            println!("      {line}");
        }
    }
    if !verification.holds() {
        return Err("verify says the restriction does not hold".into());
    }
    large_message(&emulator, &config)?;
    println!("\n      ({:.1} s)", started.elapsed().as_secs_f64());
    // The demo's emulator stops with it; a long-running one keeps its inbox.
    println!(
        "      To watch mail like this arrive in a browser, run `graphmailer emulator` and open\n      \
         the inbox it prints (this run's was {}).",
        emulator.banner().inbox
    );
    blocking::runtime().block_on(emulator.shutdown());
    Ok(())
}

/// Step 7: a message over Graph's 4 MB request limit, through a draft and
/// upload sessions, by the app that holds Mail.ReadWrite for it.
fn large_message(
    emulator: &graphmailer_emulator::Emulator,
    config: &dyn Fn(&[&str]) -> graphmailer::Result<Config>,
) -> Result<(), String> {
    use graphmailer_emulator::defaults as d;
    step(
        7,
        &format!(
            "A 12 MB report as {} (app \"{}\": Mail.Send + Mail.ReadWrite, large messages on)...",
            d::BILLING_MAILBOX,
            d::BILLING_DISPLAY_NAME
        ),
    );
    let base = config(&[]).map_err(|e| e.to_string())?;
    let large = Config::builder()
        .tenant_id(base.tenant_id())
        .client_id(d::BILLING_CLIENT_ID)
        .client_secret(d::BILLING_SECRET)
        .authority_host(base.authority_host())
        .graph_endpoint(base.graph_endpoint())
        .ca_bundle_pem(emulator.ca_pem().unwrap_or_default().as_bytes().to_vec())
        .large_messages(true)
        .build()
        .map_err(|e| e.to_string())?;
    let mailer = blocking::Mailer::new(large).map_err(|e| e.to_string())?;
    let report: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let path = std::env::temp_dir().join(format!("graphmailer-demo-{}.pdf", std::process::id()));
    std::fs::write(&path, &report).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let attachment = graphmailer::Attachment::from_path(&path).map_err(|e| e.to_string());
    let sent = attachment.and_then(|a| {
        mailer
            .send(
                &Message::new(d::BILLING_MAILBOX)
                    .to("auditor@fabrikam.example")
                    .subject("Annual report")
                    .text("The annual report is attached.")
                    .attach(a.with_content_type("application/pdf")),
            )
            .map_err(|e| format!("the large send failed:\n{e}"))
    });
    let _ = std::fs::remove_file(&path);
    let receipt = sent?;
    let counters = emulator.counters();
    println!(
        "      accepted (202), request id {}: 1 draft, {} upload chunks, {:.1} MB uploaded",
        receipt.request_id.as_deref().unwrap_or("-"),
        counters.upload_chunks,
        counters.upload_bytes as f64 / (1024.0 * 1024.0)
    );
    let stored = emulator.messages();
    let arrived = stored
        .last()
        .and_then(|m| m.message["attachments"][0]["contentBytes"].as_str())
        .and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        });
    if arrived.as_deref() != Some(report.as_slice()) {
        return Err("the report did not arrive byte for byte".into());
    }
    let left = emulator.drafts()["drafts"].as_array().map_or(0, Vec::len);
    if left != 0 {
        return Err(format!("{left} draft(s) left in the mailbox"));
    }
    println!("      read back: the 12 MB attachment arrived byte for byte; no draft left behind");
    Ok(())
}
