//! Workload identity federation over real HTTP: the emulator's own OIDC
//! issuer mints a workload's token, the token endpoint takes it as the
//! client assertion of an app that trusts that issuer, and every way the
//! match can fail gets Entra's code.

use crate::common;

use common::{Answer, Emu, TestCert, assertion_form, claims, jwt_header, message, now};
use graphmailer_emulator::{Directory, FederatedTokenRequest, defaults as d};
use serde_json::{Value, json};

/// Mints through the test API; returns the token.
async fn mint(emu: &Emu, request: Value) -> String {
    let answer = emu.post("oidc/token", request).await;
    assert_eq!(answer.status, 200, "mint: {}", answer.json);
    answer.json["token"].as_str().unwrap().to_owned()
}

async fn workload_token(emu: &Emu, assertion: &str) -> Answer {
    emu.token_request(
        d::TENANT_ID,
        &assertion_form(d::WORKLOAD_CLIENT_ID, assertion),
    )
    .await
}

fn description(answer: &Answer) -> &str {
    answer.json["error_description"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_issuer_publishes_discovery_and_keys() {
    let emu = Emu::start().await;
    let issuer = format!("{}/_emulator/oidc", emu.url());
    assert_eq!(emu.emulator.oidc_issuer(), issuer);
    assert_eq!(emu.emulator.banner().oidc_issuer, issuer);
    let config = emu.get("oidc/.well-known/openid-configuration").await;
    assert_eq!(config.status, 200);
    assert_eq!(config.json["issuer"], issuer);
    assert_eq!(config.json["jwks_uri"], format!("{issuer}/keys"));
    let keys = emu.get("oidc/keys").await;
    assert_eq!(keys.status, 200);
    let key = &keys.json["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));

    let token = mint(&emu, json!({"subject": d::WORKLOAD_SUBJECT})).await;
    assert_eq!(jwt_header(&token)["alg"], "RS256");
    assert_eq!(jwt_header(&token)["kid"], key["kid"]);
    let c = claims(&token);
    assert_eq!(c["iss"], issuer);
    assert_eq!(c["sub"], d::WORKLOAD_SUBJECT);
    assert_eq!(c["aud"], json!([d::FEDERATED_AUDIENCE]));
    let exp = c["exp"].as_i64().unwrap();
    assert!((exp - now() - 3600).abs() < 60, "exp {exp}");

    // The issuer's key is not the access tokens' key.
    let tenant_keys = emu
        .http
        .get(format!(
            "{}/{}/discovery/v2.0/keys",
            emu.url(),
            d::TENANT_ID
        ))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_ne!(tenant_keys["keys"][0]["n"], key["n"]);

    let bad = emu.post("oidc/token", json!({"subjet": "x"})).await;
    assert_eq!(bad.status, 400, "{}", bad.json);
    let empty = emu.post("oidc/token", json!({"subject": " "})).await;
    assert_eq!(empty.status, 400, "{}", empty.json);
}

#[tokio::test]
async fn a_federated_token_gets_an_access_token_that_sends_within_policy() {
    let emu = Emu::start().await;
    let assertion = mint(&emu, json!({"subject": d::WORKLOAD_SUBJECT})).await;
    let answer = workload_token(&emu, &assertion).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let token = answer.json["access_token"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!(c["appid"], d::WORKLOAD_CLIENT_ID);
    assert_eq!(c["app_displayname"], d::WORKLOAD_DISPLAY_NAME);
    assert_eq!(c["appidacr"], "2");
    assert_eq!(c["roles"], json!(["Mail.Send"]));

    let sent = emu
        .send(&token, d::ERP_MAILBOX, &message("by federation"))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.json);
    let denied = emu.send(&token, d::CEO_MAILBOX, &message("no")).await;
    assert_eq!(denied.status, 403, "{}", denied.json);
    assert_eq!(emu.emulator.messages()[0].app_id, d::WORKLOAD_CLIENT_ID);

    // The same token may be presented again while it is valid: the
    // platform hands out one token for a while, unlike a signed assertion.
    let again = workload_token(&emu, &assertion).await;
    assert_eq!(again.status, 200, "{}", again.json);

    // The in-process minting gives the same kind of token.
    let minted = emu
        .emulator
        .mint_federated_token(&FederatedTokenRequest::for_subject(d::WORKLOAD_SUBJECT))
        .unwrap();
    assert!(!format!("{minted:?}").contains(&minted.token));
    let answer = workload_token(&emu, &minted.token).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    // v1 endpoint too.
    let v1 = emu
        .http
        .post(format!("{}/{}/oauth2/token", emu.url(), d::TENANT_ID))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", d::WORKLOAD_CLIENT_ID),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", minted.token.as_str()),
            ("resource", "https://graph.microsoft.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(v1.status(), 200);
}

#[tokio::test]
async fn mismatches_get_entras_codes_and_texts() {
    let emu = Emu::start().await;
    let issuer = emu.emulator.oidc_issuer().to_owned();

    let wrong_issuer = mint(
        &emu,
        json!({"subject": d::WORKLOAD_SUBJECT, "issuer": "https://token.actions.githubusercontent.com"}),
    )
    .await;
    let answer = workload_token(&emu, &wrong_issuer).await;
    assert_eq!(
        (answer.status, answer.aadsts()),
        (401, Some(700211)),
        "{}",
        answer.json
    );
    assert_eq!(answer.json["error"], "invalid_client");
    assert!(
        description(&answer).starts_with(
            "AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://token.actions.githubusercontent.com'."
        ),
        "{}",
        description(&answer)
    );

    let wrong_subject = mint(&emu, json!({"subject": "system:serviceaccount:erp:other"})).await;
    let answer = workload_token(&emu, &wrong_subject).await;
    assert_eq!(
        (answer.status, answer.aadsts()),
        (401, Some(700213)),
        "{}",
        answer.json
    );
    assert!(
        description(&answer)
            .contains("presented assertion subject 'system:serviceaccount:erp:other'"),
        "{}",
        description(&answer)
    );
    // The comparison is case-sensitive, as Entra's; a subject that differs
    // only in case has its own code.
    let upper = mint(&emu, json!({"subject": d::WORKLOAD_SUBJECT.to_uppercase()})).await;
    let answer = workload_token(&emu, &upper).await;
    assert_eq!(answer.aadsts(), Some(7002138), "{}", answer.json);
    assert_eq!(answer.status, 401);
    assert!(description(&answer).contains("case-sensitive"));

    let wrong_audience = mint(
        &emu,
        json!({"subject": d::WORKLOAD_SUBJECT, "audience": "api://AzureADTokenExchangeX"}),
    )
    .await;
    let answer = workload_token(&emu, &wrong_audience).await;
    assert_eq!(
        (answer.status, answer.aadsts()),
        (401, Some(700212)),
        "{}",
        answer.json
    );
    assert!(description(&answer).contains("audience 'api://AzureADTokenExchangeX'"));

    // An app with no federated credential at all.
    let good = mint(&emu, json!({"subject": d::WORKLOAD_SUBJECT})).await;
    let answer = emu
        .token_request(d::TENANT_ID, &assertion_form(d::ERP_CLIENT_ID, &good))
        .await;
    assert_eq!(
        (answer.status, answer.aadsts()),
        (400, Some(70021)),
        "{}",
        answer.json
    );
    assert_eq!(answer.json["error"], "invalid_request");
    assert!(
        description(&answer).contains(&format!(
            "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{}'. Assertion Audience: '{}'.",
            d::WORKLOAD_SUBJECT,
            d::FEDERATED_AUDIENCE
        )),
        "{}",
        description(&answer)
    );

    // Every error carries Entra's ids, and never the assertion.
    for token in [&wrong_issuer, &wrong_subject, &wrong_audience, &good] {
        let answer = workload_token(&emu, &format!("{token}x")).await;
        assert!(answer.json["trace_id"].as_str().is_some());
        assert!(answer.json["correlation_id"].as_str().is_some());
        let text = answer.json.to_string();
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "{text}");
    }
    let counters = emu.emulator.counters();
    assert!(counters.token_errors >= 9, "{counters:?}");
}

#[tokio::test]
async fn signatures_and_malformed_tokens_are_refused() {
    let emu = Emu::start().await;
    let good = mint(&emu, json!({"subject": d::WORKLOAD_SUBJECT})).await;
    // A tampered payload (another subject) keeps the old signature.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut payload = claims(&good);
    payload["exp"] = json!(now() + 86_400);
    parts[1] = base64_url(&payload.to_string());
    let tampered = parts.join(".");
    let answer = workload_token(&emu, &tampered).await;
    assert_eq!(
        (answer.status, answer.aadsts()),
        (401, Some(700027)),
        "{}",
        answer.json
    );
    assert_eq!(answer.json["error"], "invalid_client");

    // Signed by a key the issuer never published, under the issuer's name.
    let stranger = TestCert::new(1);
    let forged = stranger.sign(
        &json!({"alg": "RS256", "typ": "JWT", "kid": jwt_header(&good)["kid"]}),
        &claims(&good),
    );
    let answer = workload_token(&emu, &forged).await;
    assert_eq!(answer.aadsts(), Some(700027), "{}", answer.json);

    let answer = workload_token(&emu, "not-a-jwt").await;
    assert_eq!(
        (answer.status, answer.aadsts()),
        (401, Some(50027)),
        "{}",
        answer.json
    );
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn expired_and_early_tokens_are_700024() {
    let emu = Emu::start().await;
    let expired = mint(
        &emu,
        json!({"subject": d::WORKLOAD_SUBJECT, "lifetime_seconds": -1}),
    )
    .await;
    let answer = workload_token(&emu, &expired).await;
    assert_eq!(
        (answer.status, answer.aadsts()),
        (401, Some(700024)),
        "{}",
        answer.json
    );
    assert!(description(&answer).contains("Client assertion is not within its valid time range."));

    let early = mint(
        &emu,
        json!({"subject": d::WORKLOAD_SUBJECT, "not_before_offset_seconds": 120}),
    )
    .await;
    assert_eq!(workload_token(&emu, &early).await.aadsts(), Some(700024));

    // The emulator's clock: a token valid now is refused once it has passed.
    let short = mint(
        &emu,
        json!({"subject": d::WORKLOAD_SUBJECT, "lifetime_seconds": 600}),
    )
    .await;
    assert_eq!(workload_token(&emu, &short).await.status, 200);
    emu.advance_clock(601_000).await;
    assert_eq!(workload_token(&emu, &short).await.aadsts(), Some(700024));
    // ... and the early one has become valid.
    assert_eq!(workload_token(&emu, &early).await.status, 200);
}

#[tokio::test]
async fn rotated_tokens_are_each_accepted_while_valid() {
    let emu = Emu::start().await;
    let first = mint(
        &emu,
        json!({"subject": d::WORKLOAD_SUBJECT, "lifetime_seconds": 3600}),
    )
    .await;
    emu.advance_clock(50 * 60 * 1000).await;
    // The platform writes a new token before the old one expires.
    let second = mint(
        &emu,
        json!({"subject": d::WORKLOAD_SUBJECT, "lifetime_seconds": 3600}),
    )
    .await;
    assert_ne!(first, second);
    assert!(claims(&second)["exp"].as_i64() > claims(&first)["exp"].as_i64());
    assert_eq!(workload_token(&emu, &first).await.status, 200);
    assert_eq!(workload_token(&emu, &second).await.status, 200);
    emu.advance_clock(11 * 60 * 1000).await;
    assert_eq!(workload_token(&emu, &first).await.aadsts(), Some(700024));
    assert_eq!(workload_token(&emu, &second).await.status, 200);
}

/// The app with a secret and `Mail.Send` that every directory needs for
/// the banner, and a mailbox.
const BANNER_APP: &str = r#"
        [[tenants.apps]]
        client_id = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14"
        display_name = "Contoso ERP"
        roles = ["Mail.Send"]
        secrets = [{ value = "s" }]

        [[tenants.mailboxes]]
        address = "erp@contoso.test"
"#;

/// A directory whose app trusts a foreign issuer by inline JWKS.
fn foreign_directory(jwks: &Value, subject: &str) -> Directory {
    let text = format!(
        r#"
        [[tenants]]
        id = "{tenant}"
        domains = ["contoso.test"]

        [[tenants.apps]]
        client_id = "{client}"
        display_name = "CI deployer"
        roles = ["Mail.Send"]

        [[tenants.apps.federated_credentials]]
        name = "github-main"
        issuer = "https://token.actions.githubusercontent.com"
        subject = "{subject}"
        jwks = '''{jwks}'''

        [[tenants.apps.federated_credentials]]
        name = "own-issuer"
        issuer = "{{emulator_url}}/_emulator/oidc"
        subject = "spiffe://contoso.test/erp"
        audiences = ["api://AzureADTokenExchange", "api://other"]
        {BANNER_APP}
        "#,
        tenant = d::TENANT_ID,
        client = d::WORKLOAD_CLIENT_ID,
    );
    Directory::from_toml_str(&text).expect("directory parses")
}

#[tokio::test]
async fn a_foreign_issuer_is_trusted_through_inline_jwks() {
    let key = TestCert::new(1);
    let subject = "repo:contoso/erp:ref:refs/heads/main";
    let directory = foreign_directory(&key.jwks("gh-1"), subject);
    let credentials = &directory.tenants[0].apps[0].federated_credentials;
    assert_eq!(credentials[0].audiences, [d::FEDERATED_AUDIENCE]);
    let emu = Emu::with_directory(directory).await;
    // The placeholder became this emulator's issuer.
    let listed = emu.get("directory").await;
    assert!(
        listed
            .json
            .to_string()
            .contains(&format!("{}/_emulator/oidc", emu.url())),
        "{}",
        listed.json
    );

    let t = now();
    let github = |kid: &str, sub: &str| {
        key.sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
            &json!({"iss": "https://token.actions.githubusercontent.com", "sub": sub,
                    "aud": d::FEDERATED_AUDIENCE, "iat": t, "nbf": t, "exp": t + 300}),
        )
    };
    let answer = workload_token(&emu, &github("gh-1", subject)).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let answer = workload_token(&emu, &github("gh-2", subject)).await;
    assert_eq!(answer.aadsts(), Some(700027), "{}", answer.json);
    assert!(description(&answer).contains("The key was not found"));
    let answer = workload_token(&emu, &github("gh-1", "repo:contoso/erp:pull_request")).await;
    assert_eq!(answer.aadsts(), Some(700213), "{}", answer.json);

    // The second credential: the emulator's own issuer, another audience.
    let own = emu
        .emulator
        .mint_federated_token(&FederatedTokenRequest {
            audience: "api://other".into(),
            ..FederatedTokenRequest::for_subject("spiffe://contoso.test/erp")
        })
        .unwrap();
    assert_eq!(workload_token(&emu, &own.token).await.status, 200);
}

#[tokio::test]
async fn a_foreign_issuer_without_keys_cannot_be_verified() {
    let directory = Directory::from_toml_str(&format!(
        r#"
        [[tenants]]
        id = "{tenant}"
        domains = ["contoso.test"]

        [[tenants.apps]]
        client_id = "{client}"
        display_name = "CI deployer"
        federated_credentials = [{{ name = "gh", issuer = "https://token.actions.githubusercontent.com", subject = "s" }}]
        {BANNER_APP}
        "#,
        tenant = d::TENANT_ID,
        client = d::WORKLOAD_CLIENT_ID,
    ))
    .unwrap();
    let emu = Emu::with_directory(directory).await;
    let token = mint(
        &emu,
        json!({"subject": "s", "issuer": "https://token.actions.githubusercontent.com"}),
    )
    .await;
    let answer = workload_token(&emu, &token).await;
    assert_eq!(answer.aadsts(), Some(700027), "{}", answer.json);
    assert!(
        description(&answer).contains("inline jwks"),
        "{}",
        description(&answer)
    );
}

#[tokio::test]
async fn bad_federated_credentials_in_a_directory_file_are_refused() {
    let base = format!(
        r#"
        [[tenants]]
        id = "{tenant}"
        domains = ["contoso.test"]

        [[tenants.apps]]
        client_id = "{client}"
        display_name = "CI deployer"
        "#,
        tenant = d::TENANT_ID,
        client = d::WORKLOAD_CLIENT_ID,
    );
    for (credential, expected) in [
        (
            r#"{ name = "a", issuer = "https://i", subject = "s", audiences = [] }"#,
            "audience",
        ),
        (
            r#"{ name = "a", issuer = "", subject = "s" }"#,
            "must not be empty",
        ),
        (
            r#"{ name = "a", issuer = "https://i", subject = "s", jwks = "nope" }"#,
            "jwks",
        ),
        (
            r#"{ name = "a", issuer = "https://i", subject = "s", jwks = { kid = "x" } }"#,
            "keys",
        ),
        (
            r#"{ name = "a", issuer = "https://i", subject = "s", subjekt = "s" }"#,
            "subjekt",
        ),
    ] {
        let text = format!("{base}federated_credentials = [{credential}]\n");
        let err = Directory::from_toml_str(&text).unwrap_err().to_string();
        assert!(err.contains(expected), "{credential}: {err}");
    }
}

#[tokio::test]
async fn over_https_the_issuer_is_the_https_origin_and_tokens_do_not_cross() {
    let emu = Emu::start_tls().await;
    assert!(emu.emulator.oidc_issuer().starts_with("https://"));
    let minted = emu
        .emulator
        .mint_federated_token(&FederatedTokenRequest::for_subject(d::WORKLOAD_SUBJECT))
        .unwrap();
    let answer = workload_token(&emu, &minted.token).await;
    assert_eq!(answer.status, 200, "{}", answer.json);
    let access_token = answer.json["access_token"].as_str().unwrap().to_owned();

    // A workload token is no access token at Graph...
    let sent = emu.send(&minted.token, d::ERP_MAILBOX, &message("x")).await;
    assert_eq!(sent.status, 401, "{}", sent.json);
    // ... and an access token is no workload token: its issuer is Entra's.
    let answer = workload_token(&emu, &access_token).await;
    assert_eq!(answer.aadsts(), Some(700211), "{}", answer.json);
}
