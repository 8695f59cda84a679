//! The built-in scenario: one tenant "Contoso" with seven apps, two managed
//! identities, four mailboxes, one mail-enabled security group and the
//! application access policies that restrict the senders.
//!
//! Other crates' tests and documentation rely on these exact values, so they
//! are constants. The scenario is chosen so that every interesting answer is
//! one request away: the ERP app may send as `erp@` and `billing@` (members of
//! the policy group) but not as `ceo@`; `legacy@` is a member but has no
//! Exchange Online licence; the Reporting app lacks `Mail.Send`; the Intranet
//! app has no application permission at all; the Legacy Sync app holds
//! `Mail.Send`, `Mail.ReadWrite` and `full_access_as_app` with no policy;
//! the Billing app holds `Mail.Send` and `Mail.ReadWrite` (what the
//! large-attachment path needs) under the same restriction as the ERP app.
//! The Workload app has no secret and proves itself with a federated token;
//! the ERP VM (system-assigned) and Reports (user-assigned, no `Mail.Send`)
//! managed identities get their tokens from the local identity endpoints.

/// The Contoso tenant (directory) id.
pub const TENANT_ID: &str = "7f3c2a9e-4b1d-4e8a-9c6f-2d5e8b1a0c37";
/// Contoso's verified custom domain (mailbox addresses use it).
pub const TENANT_DOMAIN: &str = "contoso.test";
/// Contoso's initial `onmicrosoft.com` domain.
pub const TENANT_INITIAL_DOMAIN: &str = "contoso.onmicrosoft.com";

/// "Contoso ERP": holds `Mail.Send`, restricted by policy to `erp-senders@`.
pub const ERP_CLIENT_ID: &str = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";
/// Display name of the ERP app (the token's `app_displayname`).
pub const ERP_DISPLAY_NAME: &str = "Contoso ERP";
/// Object id of the ERP app's service principal (the token's `oid`/`sub`).
pub const ERP_OBJECT_ID: &str = "c8a1e3f5-7b9d-4c2e-a4f6-8b0d2e4f6a81";
/// Id of the ERP app's valid secret (sending this instead of the value is a classic mistake).
pub const ERP_SECRET_ID: &str = "5a1f3c7e-2b9d-4e6f-8a0c-1d3b5e7f9a2c";
/// Value of the ERP app's valid secret (never expires).
pub const ERP_SECRET: &str = "Emu8Q~erpSecretValue.0123456789abcdefghij";
/// Id of the ERP app's expired secret.
pub const ERP_EXPIRED_SECRET_ID: &str = "0c2e4a6b-8d1f-4b3a-9c5e-7f9a1b3d5e70";
/// Value of the ERP app's expired secret (gives AADSTS7000222).
pub const ERP_EXPIRED_SECRET: &str = "Old8Q~expiredSecretValue.0123456789abcdef";
/// When the ERP app's expired secret expired (RFC 3339).
pub const ERP_EXPIRED_SECRET_EXPIRES_AT: &str = "2024-01-31T00:00:00Z";

/// "Contoso Reporting": has `User.Read.All` but not `Mail.Send`.
pub const REPORTING_CLIENT_ID: &str = "a6d4c2b0-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
/// Display name of the Reporting app.
pub const REPORTING_DISPLAY_NAME: &str = "Contoso Reporting";
/// Object id of the Reporting app's service principal.
pub const REPORTING_OBJECT_ID: &str = "9d7b5f3a-1e2c-4a6b-b8d0-f2e4c6a8b092";
/// Id of the Reporting app's secret.
pub const REPORTING_SECRET_ID: &str = "8e2d4f6a-1c3b-4d5e-9f7a-2b4c6d8e0f13";
/// Value of the Reporting app's secret.
pub const REPORTING_SECRET: &str = "Rep8Q~reportingSecretValue.0123456789abcd";

/// "Contoso Intranet": no application permission consented (token without `roles`).
pub const INTRANET_CLIENT_ID: &str = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b";
/// Display name of the Intranet app.
pub const INTRANET_DISPLAY_NAME: &str = "Contoso Intranet";
/// Object id of the Intranet app's service principal.
pub const INTRANET_OBJECT_ID: &str = "2f4a6c8e-0b1d-4e3f-a5c7-9e1b3d5f7a03";
/// Id of the Intranet app's secret.
pub const INTRANET_SECRET_ID: &str = "4b6d8f0a-2c4e-4f6a-8b0c-3d5f7a9b1c24";
/// Value of the Intranet app's secret.
pub const INTRANET_SECRET: &str = "Int8Q~intranetSecretValue.0123456789abcde";

/// "Contoso Legacy Sync": an old integration with far more than it needs
/// (`Mail.Send`, `Mail.ReadWrite` and EWS `full_access_as_app`) and no
/// access policy, so it can reach every mailbox: what a diagnostic tool
/// should flag.
pub const LEGACY_SYNC_CLIENT_ID: &str = "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70";
/// Display name of the Legacy Sync app.
pub const LEGACY_SYNC_DISPLAY_NAME: &str = "Contoso Legacy Sync";
/// Object id of the Legacy Sync app's service principal.
pub const LEGACY_SYNC_OBJECT_ID: &str = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e81";
/// Id of the Legacy Sync app's secret.
pub const LEGACY_SYNC_SECRET_ID: &str = "6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f92";
/// Value of the Legacy Sync app's secret.
pub const LEGACY_SYNC_SECRET: &str = "Lgc8Q~legacySyncSecretValue.0123456789ab";
/// Application permissions consented to the Legacy Sync app.
pub const LEGACY_SYNC_ROLES: &[&str] = &["Mail.Send", "Mail.ReadWrite", "full_access_as_app"];

/// "Contoso Billing": `Mail.Send` and `Mail.ReadWrite`, nothing broader,
/// restricted by policy to `erp-senders@` like the ERP app. It can create
/// drafts and upload sessions, so it sends large attachments.
pub const BILLING_CLIENT_ID: &str = "b7c8d9e0-f1a2-4b3c-8d4e-5f6a7b8c9d01";
/// Display name of the Billing app.
pub const BILLING_DISPLAY_NAME: &str = "Contoso Billing";
/// Object id of the Billing app's service principal.
pub const BILLING_OBJECT_ID: &str = "e2f3a4b5-c6d7-4e8f-9a0b-1c2d3e4f5a62";
/// Id of the Billing app's secret.
pub const BILLING_SECRET_ID: &str = "f3a4b5c6-d7e8-4f9a-8b1c-2d3e4f5a6b73";
/// Value of the Billing app's secret.
pub const BILLING_SECRET: &str = "Bil8Q~billingSecretValue.0123456789abcdef";
/// Application permissions consented to the Billing app.
pub const BILLING_ROLES: &[&str] = &["Mail.Send", "Mail.ReadWrite"];

/// "Contoso Outbox": `Mail.Send` and `Mail.ReadBasic.All`, restricted by
/// policy to `erp-senders@` like the ERP app. It can look in Sent Items, so
/// a durable queue can check whether an ambiguous send went out.
pub const OUTBOX_CLIENT_ID: &str = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f";
/// Display name of the Outbox app.
pub const OUTBOX_DISPLAY_NAME: &str = "Contoso Outbox";
/// Object id of the Outbox app's service principal.
pub const OUTBOX_OBJECT_ID: &str = "d2e3f4a5-b6c7-4d8e-9f0a-1b2c3d4e5f60";
/// Id of the Outbox app's secret.
pub const OUTBOX_SECRET_ID: &str = "e3f4a5b6-c7d8-4e9f-8a1b-2c3d4e5f6a71";
/// Value of the Outbox app's secret.
pub const OUTBOX_SECRET: &str = "Obx8Q~outboxSecretValue.0123456789abcdefg";
/// Application permissions consented to the Outbox app.
pub const OUTBOX_ROLES: &[&str] = &["Mail.Send", "Mail.ReadBasic.All"];

/// "Contoso Workload": no secret and no certificate; it proves who it is
/// with a token from a workload's platform (workload identity federation),
/// holds `Mail.Send` and is restricted by policy to `erp-senders@`.
pub const WORKLOAD_CLIENT_ID: &str = "7e1d5a3c-9b2f-4c8e-a6d4-3f2b1c0e9d8a";
/// Display name of the Workload app.
pub const WORKLOAD_DISPLAY_NAME: &str = "Contoso Workload";
/// Object id of the Workload app's service principal.
pub const WORKLOAD_OBJECT_ID: &str = "4c2e0a8b-6d1f-4e3a-9b5c-7d9f1b3e5a20";
/// Name of the Workload app's federated identity credential.
pub const WORKLOAD_CREDENTIAL_NAME: &str = "erp-graphmailer";
/// The subject its federated credential trusts: a Kubernetes service account.
pub const WORKLOAD_SUBJECT: &str = "system:serviceaccount:erp:graphmailer";
/// The audience Entra expects in a federated token.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";
/// Written in a federated credential's `issuer`, stands for this emulator's
/// URL (known only once it listens): `{emulator_url}/_emulator/oidc` is the
/// emulator's own OIDC issuer.
pub const EMULATOR_URL_PLACEHOLDER: &str = "{emulator_url}";
/// The path of the emulator's own OIDC issuer under its URL.
pub const OIDC_ISSUER_PATH: &str = "/_emulator/oidc";

/// "Contoso ERP VM": the system-assigned managed identity of the machine
/// the emulator stands in for (used when a client names no identity);
/// `Mail.Send`, restricted by policy to `erp-senders@`.
pub const VM_IDENTITY_CLIENT_ID: &str = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
/// Display name of the system-assigned managed identity.
pub const VM_IDENTITY_DISPLAY_NAME: &str = "Contoso ERP VM";
/// Object (principal) id of the system-assigned managed identity.
pub const VM_IDENTITY_OBJECT_ID: &str = "1b3d5f7a-9c2e-4d6f-8a1b-3c5e7f9a2b4d";
/// A user-assigned managed identity WITHOUT `Mail.Send` (it holds only
/// `User.Read.All`): Graph answers its sendMail with 403 `ErrorAccessDenied`.
pub const REPORTS_IDENTITY_CLIENT_ID: &str = "0f1e2d3c-4b5a-4968-8776-655443322110";
/// Display name of the user-assigned managed identity.
pub const REPORTS_IDENTITY_DISPLAY_NAME: &str = "Contoso Reports Identity";
/// Object (principal) id of the user-assigned managed identity.
pub const REPORTS_IDENTITY_OBJECT_ID: &str = "2c4e6a8b-0d1f-4a3b-9c5d-7e9f1a3b5c6e";
/// The value clients must send in `X-IDENTITY-HEADER` (App Service's
/// `IDENTITY_HEADER`). A test value, but treated as a secret: never logged.
pub const IDENTITY_HEADER: &str = "emu-identity-header-7b1f0c9e4d2a";
/// `expires_in` of managed identity tokens (what IMDS answers: 24 hours).
pub const MANAGED_IDENTITY_TOKEN_LIFETIME_SECS: u64 = 86_399;

/// How long after a send its copy appears in Sent Items, by default.
pub const SENT_ITEMS_LAG_MS: u64 = 100;

/// User mailbox the ERP app may send as (member of `erp-senders@`).
pub const ERP_MAILBOX: &str = "erp@contoso.test";
/// Object id of `erp@`.
pub const ERP_MAILBOX_ID: &str = "6e0b7c2d-3f4a-4b5c-9d8e-1a2b3c4d5e61";
/// User mailbox the ERP app may NOT send as (not in `erp-senders@`).
pub const CEO_MAILBOX: &str = "ceo@contoso.test";
/// Object id of `ceo@`.
pub const CEO_MAILBOX_ID: &str = "7f1c8d3e-4a5b-4c6d-8e9f-2b3c4d5e6f72";
/// Shared mailbox the ERP app may send as (member of `erp-senders@`).
pub const BILLING_MAILBOX: &str = "billing@contoso.test";
/// Object id of `billing@`.
pub const BILLING_MAILBOX_ID: &str = "8a2d9e4f-5b6c-4d7e-9fa0-3c4d5e6f7a83";
/// Mailbox without an Exchange Online licence (404 `MailboxNotEnabledForRESTAPI`).
pub const LEGACY_MAILBOX: &str = "legacy@contoso.test";
/// Object id of `legacy@`.
pub const LEGACY_MAILBOX_ID: &str = "9b3eaf50-6c7d-4e8f-a0b1-4d5e6f7a8b94";

/// Mail-enabled security group scoping the ERP app's RestrictAccess policy.
pub const ERP_SENDERS_GROUP: &str = "erp-senders@contoso.test";
/// Object id of `erp-senders@`.
pub const ERP_SENDERS_GROUP_ID: &str = "0c4fb061-7d8e-4f9a-b1c2-5e6f7a8b9ca5";

/// The sender the banner advertises as allowed for the ERP app.
pub const ALLOWED_SENDER: &str = ERP_MAILBOX;
/// The sender the banner advertises as denied for the ERP app.
pub const DENIED_SENDER: &str = CEO_MAILBOX;

/// The scope a client-credentials client asks for to call Microsoft Graph.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Microsoft Graph's application id (also accepted as `{id}/.default`).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// Default `expires_in` of issued tokens.
pub const TOKEN_LIFETIME_SECS: u64 = 3599;
/// Default number of concurrent sendMail requests per app and mailbox.
pub const MAILBOX_CONCURRENCY: u32 = 4;
/// Default number of sendMail requests per app and mailbox per window.
pub const RATE_LIMIT_REQUESTS: u32 = 10_000;
/// Default rate-limit window in seconds (10 minutes).
pub const RATE_LIMIT_WINDOW_SECS: u64 = 600;
/// The longest client assertion Microsoft's documentation asks for (10
/// minutes, what MSAL signs): a value for the `max_assertion_lifetime_secs`
/// setting, which is off (0) by default as Entra does not cap it.
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 600;
/// Default number of accepted messages kept (the oldest go first).
pub const MAX_STORED_MESSAGES: usize = 10_000;
/// Default recipients (To, Cc, Bcc) per message: Exchange Online's 500.
pub const MAX_RECIPIENTS_PER_MESSAGE: u32 = 500;
/// Clock skew allowed on a client assertion's `exp`, `nbf` and `iat` (5 minutes).
pub const ASSERTION_CLOCK_SKEW_SECS: i64 = 300;
/// Largest sendMail request body Graph accepts (4 MB).
pub const MAX_REQUEST_BYTES: usize = 4_194_304;
/// Largest chunk one PUT to an upload URL may carry (4 MB).
pub const MAX_UPLOAD_CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// Smallest attachment createUploadSession takes (3 MB); smaller files go
/// through `POST .../attachments`.
pub const MIN_UPLOAD_SESSION_BYTES: u64 = 3 * 1024 * 1024;
/// Largest attachment createUploadSession takes (150 MB).
pub const MAX_UPLOAD_SESSION_BYTES: u64 = 150 * 1024 * 1024;
/// Default maximum message size of the tenant (35 MB, Exchange Online's default).
pub const MAX_MESSAGE_SIZE_BYTES: u64 = 35 * 1024 * 1024;
/// Default lifetime of an upload session (15 minutes).
pub const UPLOAD_SESSION_LIFETIME_SECS: u64 = 900;
