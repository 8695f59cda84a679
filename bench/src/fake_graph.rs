//! The smallest server that answers what a mail client asks of Microsoft:
//! the token endpoint (with a JWT-shaped token that lasts a day), the OpenID
//! discovery document MSAL reads first, and `sendMail` (202). No validation,
//! no storage, no throttling: it must never be the limit of a benchmark, so
//! what is measured is the client. HTTPS (HTTP/2 and HTTP/1.1 by ALPN) under
//! a CA made at start, or plain HTTP.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Requests answered so far, read by the runner through `GET /_stats`.
#[derive(Default)]
pub struct Stats {
    pub token_requests: AtomicU64,
    pub sends: AtomicU64,
    pub refused: AtomicU64,
}

/// A running fake server.
pub struct FakeGraph {
    pub url: String,
    /// PEM of the CA that signed the server's certificate (HTTPS only).
    pub ca_pem: Option<String>,
    pub stats: Arc<Stats>,
}

struct Shared {
    origin: String,
    token_body: Bytes,
    stats: Arc<Stats>,
}

/// Binds 127.0.0.1:`port` (0: any) and serves on the current runtime until
/// the runtime ends.
pub async fn start(port: u16, tls: bool) -> std::io::Result<FakeGraph> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let addr = listener.local_addr()?;
    let scheme = if tls { "https" } else { "http" };
    let origin = format!("{scheme}://{addr}");
    let (acceptor, ca_pem) = if tls {
        let (config, ca_pem) = tls_config().map_err(std::io::Error::other)?;
        (Some(TlsAcceptor::from(config)), Some(ca_pem))
    } else {
        (None, None)
    };
    let stats = Arc::new(Stats::default());
    let shared = Arc::new(Shared {
        token_body: token_body(&origin),
        origin: origin.clone(),
        stats: stats.clone(),
    });
    tokio::spawn(accept_loop(listener, acceptor, shared));
    Ok(FakeGraph {
        url: origin,
        ca_pem,
        stats,
    })
}

async fn accept_loop(listener: TcpListener, acceptor: Option<TlsAcceptor>, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(answer(&shared, request).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let _ = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                    Err(_) => return,
                },
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
            };
        });
    }
}

async fn answer(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    // Read the whole body, as a real server must before answering.
    let _ = body.collect().await;
    let path = parts.uri.path();
    match (&parts.method, path) {
        (&Method::POST, p) if p.ends_with("/oauth2/v2.0/token") => {
            shared.stats.token_requests.fetch_add(1, Ordering::Relaxed);
            json(StatusCode::OK, shared.token_body.clone())
        }
        (&Method::POST, p) if p.starts_with("/v1.0/users/") && p.ends_with("/sendMail") => {
            let bearer = parts
                .headers
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
            if !bearer {
                shared.stats.refused.fetch_add(1, Ordering::Relaxed);
                return json(
                    StatusCode::UNAUTHORIZED,
                    Bytes::from_static(br#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token is empty."}}"#),
                );
            }
            let n = shared.stats.sends.fetch_add(1, Ordering::Relaxed);
            Response::builder()
                .status(StatusCode::ACCEPTED)
                .header("request-id", format!("00000000-0000-4000-8000-{n:012x}"))
                .body(Full::new(Bytes::new()))
                .expect("a fixed response is valid")
        }
        (&Method::GET, p) if p.ends_with("/.well-known/openid-configuration") => {
            let tenant = p
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("common");
            json(StatusCode::OK, discovery(&shared.origin, tenant))
        }
        (&Method::GET, "/_stats") => {
            let s = &shared.stats;
            let body = serde_json::json!({
                "token_requests": s.token_requests.load(Ordering::Relaxed),
                "sends": s.sends.load(Ordering::Relaxed),
                "refused": s.refused.load(Ordering::Relaxed),
            });
            json(StatusCode::OK, Bytes::from(body.to_string()))
        }
        _ => json(
            StatusCode::NOT_FOUND,
            Bytes::from_static(br#"{"error":"not served by the fake"}"#),
        ),
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .expect("a fixed response is valid")
}

/// The token response, made once: clients may read the token's claims (roles,
/// expiry), so it has the JWT's three parts, though nothing signs it.
fn token_body(origin: &str) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"none"}"#);
    let claims = serde_json::json!({
        "aud": "https://graph.microsoft.com",
        "iss": format!("{origin}/fake/v2.0"),
        "iat": now, "nbf": now, "exp": now + 86_400,
        "roles": ["Mail.Send"],
        "appid": "bench",
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let token = format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode(b"unsigned"));
    Bytes::from(
        serde_json::json!({
            "token_type": "Bearer",
            "expires_in": 86_399,
            "ext_expires_in": 86_399,
            "access_token": token,
        })
        .to_string(),
    )
}

fn discovery(origin: &str, tenant: &str) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "token_endpoint": format!("{origin}/{tenant}/oauth2/v2.0/token"),
            "authorization_endpoint": format!("{origin}/{tenant}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{origin}/{tenant}/oauth2/v2.0/devicecode"),
            "end_session_endpoint": format!("{origin}/{tenant}/oauth2/v2.0/logout"),
            "jwks_uri": format!("{origin}/{tenant}/discovery/v2.0/keys"),
            "issuer": format!("{origin}/{tenant}/v2.0"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token"],
            "scopes_supported": ["openid"],
        })
        .to_string(),
    )
}

/// A CA and a leaf for 127.0.0.1 and localhost, made fresh for each run.
fn tls_config() -> Result<(Arc<rustls::ServerConfig>, String), String> {
    let e = |e: &dyn std::fmt::Display| format!("TLS: {e}");
    let ca_key = KeyPair::generate().map_err(|x| e(&x))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|x| e(&x))?;
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "graphmailer bench fake CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    // Key usages and the leaf's authority key id: OpenSSL's strict mode
    // (Python's default) refuses a chain without them.
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(|x| e(&x))?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().map_err(|x| e(&x))?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).map_err(|x| e(&x))?;
    leaf.subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(|x| e(&x))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|x| e(&x))?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .map_err(|x| e(&x))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), ca_cert.pem()))
}
