//! A load generator for `sendMail`: one token, then N sends with C in flight
//! spread over several HTTP/2 connections, so the generator is not the
//! limit of the server it measures.

use std::time::Instant;

use futures::StreamExt;

/// A server to load: where it is and the credentials its token endpoint takes.
pub struct Target {
    pub url: String,
    pub ca_pem: Option<String>,
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    pub scope: String,
    /// Mailboxes the sends go round.
    pub senders: Vec<String>,
    /// A bearer token to send instead of asking the token endpoint for one,
    /// so that two servers can be given the same bytes.
    pub bearer: Option<String>,
}

/// What one run achieved.
pub struct Outcome {
    pub accepted: usize,
    pub failed: usize,
    pub seconds: f64,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.accepted as f64 / self.seconds
    }
}

/// Sends `sends` mails with `in_flight` requests at a time over `connections`
/// HTTP/2 connections.
pub async fn run(
    target: &Target,
    sends: usize,
    in_flight: usize,
    connections: usize,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let clients = (0..connections.max(1))
        .map(|_| client(target))
        .collect::<Result<Vec<_>, _>>()?;
    let token = match &target.bearer {
        Some(token) => token.clone(),
        None => token(target, &clients[0]).await?,
    };
    let urls: Vec<String> = target
        .senders
        .iter()
        .map(|s| format!("{}/v1.0/users/{s}/sendMail", target.url))
        .collect();
    let body = bytes::Bytes::from(crate::BODY);
    let started = Instant::now();
    let accepted = futures::stream::iter(0..sends)
        .map(|i| {
            let request = clients[i % clients.len()]
                .post(&urls[i % urls.len()])
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.clone());
            async move { matches!(request.send().await, Ok(r) if r.status().as_u16() == 202) }
        })
        .buffer_unordered(in_flight)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    Ok(Outcome {
        accepted,
        failed: sends - accepted,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// An HTTP client (one connection) that trusts the target's CA.
pub fn client(target: &Target) -> Result<reqwest::Client, Box<dyn std::error::Error>> {
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(pem) = &target.ca_pem {
        builder = builder.tls_certs_merge([reqwest::Certificate::from_pem(pem.as_bytes())?]);
    }
    Ok(builder.build()?)
}

/// A token from the target's token endpoint (client credentials).
pub async fn token(
    target: &Target,
    client: &reqwest::Client,
) -> Result<String, Box<dyn std::error::Error>> {
    let answer: serde_json::Value = client
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            target.url, target.tenant
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &target.client_id),
            ("client_secret", &target.client_secret),
            ("scope", &target.scope),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(answer["access_token"]
        .as_str()
        .ok_or("the token endpoint gave no access token")?
        .to_owned())
}
