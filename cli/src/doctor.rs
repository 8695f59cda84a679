//! `graphmailer doctor`: get a token and explain it.

use std::process::ExitCode;

use graphmailer::{Diagnosis, Severity, blocking};

use crate::config_arg::ConfigArg;
use crate::output;

#[derive(clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Print one JSON object on stdout instead of the report.
    #[arg(long)]
    json: bool,
}

/// Exit statuses: 0 when nothing is wrong (warnings allowed); the error
/// kind's status when no token could be had; 1 when a finding is an error.
pub fn run(args: DoctorArgs) -> ExitCode {
    let diagnosis = match args
        .config
        .load()
        .and_then(blocking::Mailer::new)
        .and_then(|mailer| mailer.diagnose())
    {
        Ok(d) => d,
        Err(error) => return output::fail(&error, args.json),
    };
    if args.json {
        println!("{}", diagnosis.to_json());
    } else {
        print!("{}", report(&diagnosis));
    }
    match (&diagnosis.error, diagnosis.ok()) {
        (Some(error), _) => ExitCode::from(error.kind().exit_code()),
        (None, true) => ExitCode::SUCCESS,
        (None, false) => ExitCode::FAILURE,
    }
}

fn report(d: &Diagnosis) -> String {
    let none = || "none".to_owned();
    let mut rows: Vec<(&str, String)> = vec![
        ("tenant", d.tenant_id.clone()),
        (
            "app (client) id",
            if d.client_id.is_empty() {
                "none (the host's system-assigned identity)".to_owned()
            } else {
                d.client_id.clone()
            },
        ),
        ("credential", d.credential.to_owned()),
        ("chosen because", d.credential_reason.clone()),
        ("cloud", d.cloud.clone()),
        ("token endpoint", d.token_url.clone()),
        ("graph endpoint", d.graph_endpoint.clone()),
        ("scope", d.scope.clone()),
        ("proxy", d.proxy.clone().unwrap_or_else(none)),
    ];
    if let Some(no_proxy) = &d.no_proxy {
        rows.push(("no proxy for", no_proxy.clone()));
    }
    if d.token_acquired {
        rows.push((
            "token issued by",
            d.token_tenant.clone().unwrap_or_else(none),
        ));
        rows.push(("app name", d.app_display_name.clone().unwrap_or_else(none)));
        rows.push((
            "roles granted",
            if d.roles.is_empty() {
                none()
            } else {
                d.roles.join(", ")
            },
        ));
        if let Some(life) = d.token_lifetime {
            rows.push(("token lifetime", format!("{} min", life.as_secs() / 60)));
        }
        if let Some(skew) = d.clock_skew_secs {
            rows.push((
                "clock skew",
                format!("{skew:+} s (this machine minus the server)"),
            ));
        }
    } else {
        rows.push(("token", "not acquired".to_owned()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in rows {
        out.push_str(&format!("{key:<width$}  {value}\n"));
    }
    out.push('\n');
    if d.findings.is_empty() {
        out.push_str("No findings: the app can get a token and holds only what sending needs.\n");
    }
    for f in &d.findings {
        let mark = match f.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
            Severity::Info => "info",
        };
        out.push_str(&format!("{mark} [{}] {}\n", f.id, f.message));
        if let Some(hint) = &f.hint {
            out.push_str(&format!("  hint: {hint}\n"));
        }
    }
    out
}
