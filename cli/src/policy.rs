//! `graphmailer policy`: the PowerShell that restricts the app.

use std::process::ExitCode;

use graphmailer::powershell::POLICY_WARNINGS;
use graphmailer::{PolicyRequest, PolicyStyle, policy_script};

use crate::output;

#[derive(clap::Args)]
pub struct PolicyArgs {
    /// The app registration's Application (client) ID.
    #[arg(long = "app-id", value_name = "GUID")]
    app_id: String,
    /// The enterprise application's Object ID (not the app registration's);
    /// needed for RBAC for Applications.
    #[arg(long = "object-id", value_name = "GUID")]
    object_id: Option<String>,
    /// A name for the service principal and the management scope.
    #[arg(long)]
    name: Option<String>,
    /// Mailboxes the app may send as (space or comma separated).
    #[arg(long = "mailbox", num_args = 1.., value_delimiter = ',', value_name = "ADDR", required = true)]
    mailboxes: Vec<String>,
    /// Mailboxes to test as refused in the script's checks.
    #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "ADDR")]
    denied: Vec<String>,
    /// Write the older New-ApplicationAccessPolicy instead of RBAC for Applications.
    #[arg(long)]
    legacy: bool,
    /// The mail-enabled security group the legacy policy is scoped to.
    #[arg(long, value_name = "ADDR")]
    group: Option<String>,
}

pub fn run(args: PolicyArgs) -> ExitCode {
    let style = if args.legacy {
        PolicyStyle::ApplicationAccessPolicy
    } else {
        PolicyStyle::Rbac
    };
    let request = PolicyRequest {
        app_id: args.app_id,
        service_principal_id: args.object_id,
        display_name: args.name,
        mailboxes: args.mailboxes,
        denied: args.denied,
        group: args.group,
    };
    match policy_script(&request, style) {
        Ok(script) => {
            print!("{script}");
            // The script carries the warnings as comments; say them to the
            // person too, since the script usually goes straight to a file.
            for warning in POLICY_WARNINGS {
                eprintln!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => output::fail(&error, false),
    }
}
