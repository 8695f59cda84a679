//! Core's `Diagnosis` and `Verification` as plain JavaScript objects: data a
//! program prints, logs or serialises with `JSON.stringify`, so they carry no
//! `Error` instances (an error's parts are an `ErrorInfo`).

use napi_derive::napi;

/// A graphmailer error's parts, as plain data (inside a `Diagnosis`).
#[napi(object)]
pub struct ErrorInfo {
    /// The error kind's code, as the `code` of a thrown error.
    #[napi(ts_type = "ErrorCode")]
    pub code: String,
    /// What happened, in a sentence (without the hint).
    pub message: String,
    /// The service's own code: `AADSTS7000215`, `ErrorAccessDenied`, ...
    pub graph_code: Option<String>,
    /// The request id Microsoft support asks for.
    pub request_id: Option<String>,
    /// What a person can do about it.
    pub hint: Option<String>,
    /// The setting or message field at fault.
    pub field: Option<String>,
    /// The HTTP status, when the service answered.
    pub status: Option<u32>,
}

impl From<&graphmailer::Error> for ErrorInfo {
    fn from(e: &graphmailer::Error) -> Self {
        ErrorInfo {
            code: e.kind().code().to_owned(),
            message: e.message().to_owned(),
            graph_code: e.code().map(str::to_owned),
            request_id: e.request_id().map(str::to_owned),
            hint: e.hint().map(str::to_owned),
            field: e.field().map(str::to_owned),
            status: e.status().map(u32::from),
        }
    }
}

/// One thing `diagnose()` found.
#[napi(object)]
pub struct Finding {
    #[napi(ts_type = "'info' | 'warning' | 'error'")]
    pub severity: String,
    /// A stable identifier (`missing-mail-send`, `broad-role`, `clock-skew`, ...).
    pub id: String,
    pub message: String,
    pub hint: Option<String>,
}

/// What `mailer.diagnose()` learned from a fresh token.
#[napi(object)]
pub struct Diagnosis {
    pub tenant_id: String,
    pub client_id: String,
    /// The kind of credential (`client secret`, `certificate`); never its value.
    pub credential: String,
    pub cloud: String,
    pub token_url: String,
    pub graph_endpoint: String,
    pub scope: String,
    /// The proxy the environment names for HTTPS, with any password removed.
    pub proxy: Option<String>,
    pub no_proxy: Option<String>,
    /// Whether a token was obtained.
    pub token_acquired: bool,
    /// The tenant that issued the token (`tid`).
    pub token_tenant: Option<String>,
    /// The app's display name in that tenant.
    pub app_display_name: Option<String>,
    /// The application roles granted (`Mail.Send`, ...).
    pub roles: Vec<String>,
    /// The token's lifetime as issued, in milliseconds.
    pub token_lifetime: Option<f64>,
    /// This machine's clock minus the identity platform's, in seconds.
    pub clock_skew_secs: Option<i64>,
    /// The token request's failure, when there was one.
    pub error: Option<ErrorInfo>,
    pub findings: Vec<Finding>,
    /// False when any finding is an error.
    pub ok: bool,
}

impl From<graphmailer::Diagnosis> for Diagnosis {
    fn from(d: graphmailer::Diagnosis) -> Self {
        let ok = d.ok();
        Diagnosis {
            tenant_id: d.tenant_id,
            client_id: d.client_id,
            credential: d.credential.to_owned(),
            cloud: d.cloud,
            token_url: d.token_url,
            graph_endpoint: d.graph_endpoint,
            scope: d.scope,
            proxy: d.proxy,
            no_proxy: d.no_proxy,
            token_acquired: d.token_acquired,
            token_tenant: d.token_tenant,
            app_display_name: d.app_display_name,
            roles: d.roles,
            token_lifetime: d.token_lifetime.map(|t| t.as_millis() as f64),
            clock_skew_secs: d.clock_skew_secs,
            error: d.error.as_ref().map(ErrorInfo::from),
            findings: d
                .findings
                .into_iter()
                .map(|f| Finding {
                    severity: f.severity.name().to_owned(),
                    id: f.id.to_owned(),
                    message: f.message,
                    hint: f.hint,
                })
                .collect(),
            ok,
        }
    }
}

/// One sender's result in a `Verification`.
#[napi(object)]
pub struct VerifyRow {
    pub sender: String,
    #[napi(ts_type = "'allowed' | 'denied'")]
    pub expected: String,
    #[napi(ts_type = "'sent' | 'denied' | 'failed'")]
    pub observed: String,
    /// True when what happened is what should happen.
    pub passed: bool,
    /// The service's code (`ErrorAccessDenied`, ...), when it refused.
    pub code: Option<String>,
    pub request_id: Option<String>,
    /// A sentence for people.
    pub detail: String,
}

/// The result of `mailer.verify()`: is the tenant's restriction in force?
#[napi(object)]
pub struct Verification {
    pub rows: Vec<VerifyRow>,
    /// Which round this is (1 for the first).
    pub round: u32,
    /// True when every sender did what it should.
    pub holds: bool,
}

impl From<graphmailer::Verification> for Verification {
    fn from(v: graphmailer::Verification) -> Self {
        let holds = v.holds();
        Verification {
            round: v.round,
            holds,
            rows: v
                .rows
                .into_iter()
                .map(|r| VerifyRow {
                    passed: r.passed(),
                    sender: r.sender,
                    expected: r.expected.name().to_owned(),
                    observed: r.observed.name().to_owned(),
                    code: r.code,
                    request_id: r.request_id,
                    detail: r.detail,
                })
                .collect(),
        }
    }
}

/// How far a large message's attachments have gone up, as `send`'s
/// `onProgress` receives it.
#[napi(object, js_name = "Progress")]
pub struct UploadProgress {
    /// The attachment's place in the message's `attachments`.
    pub index: u32,
    /// The attachment's file name.
    pub name: String,
    /// Bytes of this attachment the service has taken so far.
    pub sent: f64,
    /// The attachment's size in bytes.
    pub total: f64,
    /// Bytes of all the message's attachments taken so far.
    pub message_sent: f64,
    /// The size of all the message's attachments.
    pub message_total: f64,
    /// True on the last call only, once Graph accepted the message.
    pub finished: bool,
}

impl From<&graphmailer::Progress> for UploadProgress {
    fn from(p: &graphmailer::Progress) -> Self {
        UploadProgress {
            index: p.index as u32,
            name: p.name.clone(),
            sent: p.sent as f64,
            total: p.total as f64,
            message_sent: p.message_sent as f64,
            message_total: p.message_total as f64,
            finished: p.finished,
        }
    }
}
