//! The test API's OpenAPI document (`GET /_emulator/openapi.json`): it
//! documents exactly the `/_emulator` routes the routers register, and
//! every documented operation, called over HTTP with the document's example
//! request, answers a status the document lists with the properties its
//! schema requires.

use crate::common;

use std::collections::BTreeSet;

use common::{Emu, message};
use graphmailer_emulator::defaults as d;
use serde_json::{Value, json};

const DOCUMENT: &str = include_str!("../../src/openapi.json");

/// Every Rust file of the crate's source, so a router added in a new file
/// is read too: `(path, text)`.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut out,
    );
    out
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// `(method, path)` of every `.route("/_emulator...", ...)` in the routers'
/// source: the path literal, then each `get(`, `post(`... inside the call.
fn registered() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (file, source) in sources() {
        let mut rest = source.as_str();
        while let Some(start) = rest.find(".route(") {
            rest = &rest[start + ".route(".len()..];
            let call = call_text(rest);
            // Routes named by a constant (the managed identity paths) are
            // not the test API's.
            if !call.trim_start().starts_with('"') {
                continue;
            }
            let path = call.split('"').nth(1).unwrap();
            if !path.starts_with("/_emulator") {
                continue;
            }
            let after_path = &call[call.find(path).unwrap() + path.len()..];
            let methods: Vec<&str> = METHODS
                .into_iter()
                .filter(|m| calls(after_path, m))
                .collect();
            assert!(!methods.is_empty(), "{file}: no method for {path}");
            for method in methods {
                routes.insert((method.to_owned(), path.to_owned()));
            }
        }
    }
    routes
}

/// The text up to the parenthesis that closes the call just opened.
fn call_text(text: &str) -> &str {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    panic!("unclosed .route(");
}

/// Whether `text` calls `name(` as a routing function (not as the tail of a
/// longer name).
fn calls(text: &str, name: &str) -> bool {
    let pattern = format!("{name}(");
    text.match_indices(&pattern).any(|(i, _)| {
        text[..i]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json parses")
}

/// `(method, path, operation)` of every documented operation.
fn documented(doc: &Value) -> Vec<(String, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{path}: {method}");
            operations.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    operations
}

#[test]
fn every_registered_route_is_documented_and_every_documented_route_exists() {
    let registered = registered();
    // The parser found the routers' routes, not a handful.
    assert!(registered.contains(&("delete".into(), "/_emulator/policies/{id}".into())));
    assert!(registered.contains(&("get".into(), "/_emulator/ui/events".into())));
    assert!(registered.len() > 30, "{registered:?}");
    let documented: BTreeSet<(String, String)> = documented(&document())
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "not in openapi.json: {undocumented:?}"
    );
    assert!(missing.is_empty(), "documented but not routed: {missing:?}");
}

#[test]
fn every_operation_has_an_id_a_summary_responses_and_resolvable_schemas() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut ids = BTreeSet::new();
    for (method, path, operation) in documented(&doc) {
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(
            ids.insert(id.to_owned()),
            "{method} {path}: id {id:?} again"
        );
        assert!(operation["summary"].is_string(), "{method} {path}");
        let responses = operation["responses"].as_object().unwrap();
        assert!(!responses.is_empty(), "{method} {path}");
        for (status, response) in responses {
            for content in response["content"].as_object().into_iter().flatten() {
                resolve(&doc, &content.1["schema"]);
            }
            assert!(status.parse::<u16>().is_ok(), "{method} {path}: {status}");
        }
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "path" {
                let name = parameter["name"].as_str().unwrap();
                assert!(path.contains(&format!("{{{name}}}")), "{path}: {name}");
            }
            assert!(
                parameter.get("example").is_some(),
                "{method} {path}: {parameter}"
            );
        }
    }
}

/// A schema with its `$ref` followed; panics on a dangling one.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "dangling $ref {reference}");
            target
        }
        None => schema,
    }
}

/// Checks `body` against `schema`: the required properties are there, and
/// each property the schema types has that type.
fn conforms(doc: &Value, schema: &Value, body: &Value, at: &str) {
    let schema = resolve(doc, schema);
    if schema["type"] == "object" {
        let object = body
            .as_object()
            .unwrap_or_else(|| panic!("{at}: not an object: {body}"));
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            assert!(object.contains_key(name), "{at}: lacks {name}: {body}");
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(value) = object.get(name) {
                conforms(doc, property, value, &format!("{at}.{name}"));
            }
        }
        return;
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let fits = types.iter().any(|t| match *t {
        "string" => body.is_string(),
        "integer" => body.is_i64() || body.is_u64(),
        "number" => body.is_number(),
        "boolean" => body.is_boolean(),
        "array" => body.is_array(),
        "null" => body.is_null(),
        _ => true,
    });
    assert!(fits, "{at}: {body} is not {types:?}");
    if let (Some(items), Some(list)) = (schema.get("items"), body.as_array()) {
        for (i, item) in list.iter().enumerate() {
            conforms(doc, items, item, &format!("{at}[{i}]"));
        }
    }
}

/// A message with an inline image (content id `logo`), so the inbox's
/// attachment and `cid:` routes have something to serve; returns its id.
async fn send_fixture(emu: &Emu) -> String {
    let token = emu.erp_token().await;
    let mut body = message("described");
    body["message"]["attachments"] = json!([{
        "@odata.type": "#microsoft.graph.fileAttachment", "name": "logo.png",
        "contentType": "image/png", "contentBytes": "iVBORw0KGgo=", "isInline": true, "contentId": "logo"
    }]);
    let sent = emu.send(&token, d::ERP_MAILBOX, &body).await;
    assert_eq!(sent.status, 202, "{}", sent.json);
    emu.emulator.messages().pop().unwrap().id
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let doc = document();
    let emu = Emu::start().await;
    let served: Value = emu.get("openapi.json").await.json;
    assert_eq!(served, doc);

    for (method, path, operation) in documented(&doc) {
        let at = format!("{} {path}", method.to_uppercase());
        // Each call starts from a fresh state holding one message, so an
        // operation that clears, resets or revokes does not starve the next.
        assert_eq!(emu.post("reset", json!({})).await.status, 204);
        let message_id = send_fixture(&emu).await;
        let policy_id = emu.get("policies").await.json["policies"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let mut url = format!("{}{path}", emu.url());
        let mut query = Vec::new();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap();
            let example = match &parameter["example"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match parameter["in"].as_str().unwrap() {
                "path" => {
                    // `{id}` names a live message or policy; the other path
                    // examples (the built-in app, `logo`, `0`) exist as written.
                    let value = match name {
                        "id" if path.starts_with("/_emulator/policies/") => policy_id.clone(),
                        "id" => message_id.clone(),
                        _ => example,
                    };
                    url = url.replace(&format!("{{{name}}}"), &value);
                }
                "query" => query.push((name.to_owned(), example)),
                other => panic!("{at}: parameter in {other}"),
            }
        }
        let mut url = reqwest::Url::parse(&url).unwrap();
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(&query);
        }
        let mut request = emu
            .http
            .request(method.to_uppercase().parse().unwrap(), url);
        if let Some(content) = operation["requestBody"]["content"].as_object() {
            let (content_type, media) = content.iter().next().unwrap();
            request = request
                .header("content-type", content_type)
                .body(media["example"].to_string());
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{at}: {e}"));
        let status = response.status().as_u16();
        let documented = &operation["responses"][status.to_string()];
        assert!(documented.is_object(), "{at}: {status} is not documented");
        assert!(
            (200..300).contains(&status),
            "{at}: the example request got {status}"
        );
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let Some(content) = documented["content"].as_object() else {
            let body = response.bytes().await.unwrap();
            assert!(body.is_empty(), "{at}: {status} documents no body");
            continue;
        };
        let (declared, media) = content.iter().next().unwrap();
        let family = declared.trim_end_matches('*');
        assert!(
            content_type.starts_with(family)
                || (declared == "application/octet-stream" && !content_type.is_empty()),
            "{at}: content type {content_type}, documented {declared}"
        );
        if declared == "text/event-stream" {
            // A stream does not end: its headers are the answer.
            continue;
        }
        let body = response.bytes().await.unwrap();
        if declared == "application/json" {
            let json: Value =
                serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{at}: not JSON ({e})"));
            conforms(&doc, &media["schema"], &json, &at);
        }
    }
    emu.emulator.shutdown().await;
}
