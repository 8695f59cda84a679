//! Runs every case of tests/scenarios.json (the cases all four languages run)
//! through the Rust API against the emulator.

use crate::common;

use base64::Engine as _;
use common::*;
use graphmailer::{Address, Attachment, Error, Importance, Mailer, Message};
use serde_json::Value;

fn addresses(v: &Value) -> Vec<Address> {
    v.as_array()
        .map(|list| {
            list.iter()
                .map(|a| match a {
                    Value::String(s) => Address::new(s.as_str()),
                    other => Address::with_name(
                        other["name"].as_str().unwrap(),
                        other["address"].as_str().unwrap(),
                    ),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn message(v: &Value) -> Result<Message, Error> {
    let mut m =
        Message::new(v["from"].as_str().unwrap()).subject(v["subject"].as_str().unwrap_or(""));
    m.to = addresses(&v["to"]);
    m.cc = addresses(&v["cc"]);
    m.bcc = addresses(&v["bcc"]);
    m.reply_to = addresses(&v["reply_to"]);
    if let Some(text) = v["text"].as_str() {
        m = m.text(text);
    }
    if let Some(html) = v["html"].as_str() {
        m = m.html(html);
    }
    if let Some(importance) = v["importance"].as_str() {
        m = m.importance(importance.parse::<Importance>()?);
    }
    if let Some(save) = v["save_to_sent_items"].as_bool() {
        m = m.save_to_sent_items(save);
    }
    for h in v["headers"].as_array().into_iter().flatten() {
        m = m.header(h[0].as_str().unwrap(), h[1].as_str().unwrap());
    }
    for a in v["attachments"].as_array().into_iter().flatten() {
        let bytes = match (a["content"].as_str(), a["content_base64"].as_str()) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (_, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
            _ => Vec::new(),
        };
        let mut attachment = Attachment::from_bytes(a["name"].as_str().unwrap(), bytes);
        if let Some(ct) = a["content_type"].as_str() {
            attachment = attachment.with_content_type(ct);
        }
        attachment.inline = a["inline"].as_bool().unwrap_or(false);
        attachment.content_id = a["content_id"].as_str().map(str::to_owned);
        m = m.attach(attachment);
    }
    Ok(m)
}

#[tokio::test]
async fn every_shared_scenario() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/scenarios.json");
    let scenarios: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let emu = TestEmulator::start().await;
    let cases = scenarios["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        emu.reset().await;
        let cfg = &case["config"];
        let mut builder = emu.config();
        if let Some(v) = cfg["client_id"].as_str() {
            builder = builder.client_id(v);
        }
        if let Some(v) = cfg["client_secret"].as_str() {
            builder = builder.client_secret(v);
        }
        if let Some(v) = cfg["tenant_id"].as_str() {
            builder = builder.tenant_id(v);
        }
        if let Some(list) = cfg["allowed_senders"].as_array() {
            builder = builder.allowed_senders(list.iter().map(|s| s.as_str().unwrap().to_owned()));
        }
        let mailer = Mailer::new(builder.max_attempts(1).build().unwrap()).unwrap();
        let outcome = match message(&case["message"]) {
            Ok(m) => mailer.send(&m).await.map(|_| ()),
            Err(e) => Err(e),
        };
        let expect = &case["expect"];
        if expect["ok"].as_bool() == Some(true) {
            outcome.unwrap_or_else(|e| panic!("{name}: {e}"));
            let stored = emu.messages().await;
            assert_eq!(stored.len(), 1, "{name}");
            for (path, want) in expect["stored"].as_object().unwrap() {
                assert_eq!(at(&stored[0], path), want, "{name}: {path}");
            }
        } else {
            let e = outcome.expect_err(name);
            assert_eq!(
                e.kind().name(),
                expect["error"].as_str().unwrap(),
                "{name}: {e}"
            );
            if let Some(code) = expect["code"].as_str() {
                assert_eq!(e.code(), Some(code), "{name}: {e}");
            }
            if let Some(field) = expect["field"].as_str() {
                assert_eq!(e.field(), Some(field), "{name}: {e}");
            }
            for word in expect["hint_contains"].as_array().into_iter().flatten() {
                let hint = e.hint().unwrap_or_else(|| panic!("{name}: no hint in {e}"));
                assert!(
                    hint.contains(word.as_str().unwrap()),
                    "{name}: hint {hint:?} lacks {word}"
                );
            }
            assert!(!e.to_string().contains(SECRET), "{name}: the secret leaked");
            assert!(
                emu.messages().await.is_empty(),
                "{name}: nothing may be stored"
            );
        }
        if let Some(n) = expect["token_requests"].as_u64() {
            assert_eq!(emu.counter("token_requests").await, n, "{name}");
            assert_eq!(mailer.token_requests(), n, "{name}");
        }
    }
}
