//! `policy`: the Exchange Online PowerShell an administrator runs to restrict
//! the app to the mailboxes it may send as, filled in with their values.
//! Every value is validated first and then written in single quotes (with
//! quotes doubled, PowerShell's own escape), so nothing typed can break out of
//! a string or run a command.

use crate::address::{check_address, is_guid};
use crate::error::{Error, Result};

/// Which restriction to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyStyle {
    /// RBAC for Applications (Microsoft's current way).
    Rbac,
    /// The older `New-ApplicationAccessPolicy`.
    ApplicationAccessPolicy,
}

impl PolicyStyle {
    /// The name in configuration and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PolicyStyle::Rbac => "rbac",
            PolicyStyle::ApplicationAccessPolicy => "application_access_policy",
        }
    }
}

impl std::str::FromStr for PolicyStyle {
    type Err = Error;

    /// `rbac`, or `application_access_policy` (also spelled
    /// `applicationAccessPolicy` as JavaScript names things). Exact: a
    /// restriction is not the place to guess.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rbac" => Ok(PolicyStyle::Rbac),
            "application_access_policy" | "applicationAccessPolicy" => {
                Ok(PolicyStyle::ApplicationAccessPolicy)
            }
            other => Err(Error::config(
                "style",
                format!(
                    "'{}' is not one of 'rbac', 'application_access_policy'",
                    crate::address::printable(other)
                ),
            )),
        }
    }
}

/// What the script restricts.
#[derive(Clone, Debug, Default)]
pub struct PolicyRequest {
    /// The app registration's Application (client) ID.
    pub app_id: String,
    /// The enterprise application's (service principal's) Object ID; needed for RBAC.
    pub service_principal_id: Option<String>,
    /// A name for the service principal and the scope.
    pub display_name: Option<String>,
    /// The mailboxes the app may send as.
    pub mailboxes: Vec<String>,
    /// Mailboxes to show as refused in the test lines.
    pub denied: Vec<String>,
    /// The mail-enabled security group of an application access policy.
    pub group: Option<String>,
}

/// The warnings every administrator should read, in the script and on screen.
pub const POLICY_WARNINGS: &[&str] = &[
    "RBAC for Applications adds to the consent granted in Entra: while the app keeps the tenant-wide Mail.Send consent, it can still send as every mailbox. Remove that consent (Entra admin center > Enterprise applications > the app > Permissions) once the role assignment is in place.",
    "The service principal's Object ID is the one under Enterprise applications, not the Object ID shown on the app registration.",
    "A new or changed restriction takes 30 minutes to a few hours to apply, even after the Test- cmdlets already show it. Check with 'graphmailer verify --wait 2h'.",
];

/// PowerShell's single-quoted string: no interpolation; a quote is doubled.
/// PowerShell also treats the typographic single quotes as quotes.
fn quote(value: &str) -> String {
    let mut out = String::from("'");
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn check_name(field: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || " -_.()".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            field,
            "use 1 to 64 letters, digits, spaces and - _ . ( )",
        ))
    }
}

fn checked(request: &PolicyRequest) -> Result<()> {
    if !is_guid(&request.app_id) {
        return Err(Error::config(
            "app_id",
            "give the app registration's Application (client) ID, a GUID",
        ));
    }
    if let Some(id) = &request.service_principal_id {
        if !is_guid(id) {
            return Err(Error::config(
                "service_principal_id",
                "give the enterprise application's Object ID, a GUID",
            ));
        }
    }
    if let Some(name) = &request.display_name {
        check_name("display_name", name)?;
    }
    if request.mailboxes.is_empty() {
        return Err(Error::config(
            "mailboxes",
            "name at least one mailbox the app may send as",
        ));
    }
    for (i, m) in request.mailboxes.iter().enumerate() {
        check_address(&format!("mailboxes[{i}]"), m)
            .map_err(|e| Error::config(&format!("mailboxes[{i}]"), e.message().to_owned()))?;
    }
    for (i, m) in request.denied.iter().enumerate() {
        check_address(&format!("denied[{i}]"), m)
            .map_err(|e| Error::config(&format!("denied[{i}]"), e.message().to_owned()))?;
    }
    if let Some(group) = &request.group {
        check_address("group", group)
            .map_err(|e| Error::config("group", e.message().to_owned()))?;
    }
    Ok(())
}

/// Microsoft Graph's application ID, the same in every tenant.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The Microsoft Graph PowerShell that grants Graph's Mail.Send application
/// role to a managed identity (which has no app registration to consent on).
/// `client_id` is the identity's client ID; any other text (an unknown ID)
/// becomes a placeholder, so nothing typed is pasted into the script.
pub fn grant_mail_send_script(client_id: &str) -> String {
    // A GUID holds nothing PowerShell or OData could read as code.
    let id = if is_guid(client_id) {
        client_id
    } else {
        "<client ID of the managed identity>"
    };
    format!(
        "Connect-MgGraph -Scopes AppRoleAssignment.ReadWrite.All,Application.Read.All; \
         $graph = Get-MgServicePrincipal -Filter \"appId eq '{GRAPH_APP_ID}'\"; \
         $mi = Get-MgServicePrincipal -Filter \"appId eq '{id}'\"; \
         $role = $graph.AppRoles | Where-Object {{ $_.Value -eq 'Mail.Send' -and $_.AllowedMemberTypes -contains 'Application' }}; \
         New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $mi.Id -PrincipalId $mi.Id -ResourceId $graph.Id -AppRoleId $role.Id"
    )
}

/// The script, ready to paste into an Exchange Online PowerShell session.
pub fn policy_script(request: &PolicyRequest, style: PolicyStyle) -> Result<String> {
    checked(request)?;
    let app = quote(&request.app_id);
    let name = request
        .display_name
        .clone()
        .unwrap_or_else(|| "graphmailer".into());
    let mut s = String::new();
    let mut line = |text: &str| {
        s.push_str(text);
        s.push('\n');
    };
    line(
        "# Restrict which mailboxes the app may send as. Generated by graphmailer; read before running.",
    );
    for warning in POLICY_WARNINGS {
        line(&format!("# NOTE: {warning}"));
    }
    line("Connect-ExchangeOnline");
    line("");
    match style {
        PolicyStyle::Rbac => {
            let sp = request.service_principal_id.as_deref().ok_or_else(|| {
                Error::config(
                    "service_principal_id",
                    "RBAC for Applications needs the enterprise application's Object ID (Entra admin center > Enterprise applications > the app > Object ID)",
                )
            })?;
            let scope = format!("{name} senders");
            let filter = request
                .mailboxes
                .iter()
                .map(|m| format!("PrimarySmtpAddress -eq '{m}'"))
                .collect::<Vec<_>>()
                .join(" -or ");
            line("# 1. Make the app known to Exchange Online.");
            line(&format!(
                "New-ServicePrincipal -AppId {app} -ObjectId {} -DisplayName {}",
                quote(sp),
                quote(&name)
            ));
            line("# 2. A scope that matches only the permitted mailboxes.");
            line(&format!(
                "New-ManagementScope -Name {} -RecipientRestrictionFilter {}",
                quote(&scope),
                quote(&filter)
            ));
            line("# 3. Let the app send mail within that scope only.");
            line(&format!(
                "New-ManagementRoleAssignment -App {app} -Role 'Application Mail.Send' -CustomResourceScope {}",
                quote(&scope)
            ));
            line(
                "# 3b. Only with an outbox (graphmailer queue, the relay): let it look in the same mailboxes'",
            );
            line(
                "#     Sent Items after an ambiguous send (Mail.ReadBasic.All), instead of holding the mail:",
            );
            line(&format!(
                "# New-ManagementRoleAssignment -App {app} -Role 'Application Mail.ReadBasic' -CustomResourceScope {}",
                quote(&scope)
            ));
            line(
                "# 4. Remove the tenant-wide Mail.Send consent in Entra (see the first NOTE), then test.",
            );
            line("#    InScope must be True for these:");
            for m in &request.mailboxes {
                line(&format!(
                    "Test-ServicePrincipalAuthorization -Identity {app} -Resource {}",
                    quote(m)
                ));
            }
            if !request.denied.is_empty() {
                line("#    and False for these:");
                for m in &request.denied {
                    line(&format!(
                        "Test-ServicePrincipalAuthorization -Identity {app} -Resource {}",
                        quote(m)
                    ));
                }
            }
        }
        PolicyStyle::ApplicationAccessPolicy => {
            let group = request.group.as_deref().ok_or_else(|| {
                Error::config("group", "an application access policy is scoped to a mail-enabled security group: give its address")
            })?;
            let g = quote(group);
            line(
                "# 1. A mail-enabled security group holding the permitted mailboxes (skip New- if it exists).",
            );
            line(&format!(
                "New-DistributionGroup -Name {} -Type Security -PrimarySmtpAddress {g}",
                quote(&format!("{name} senders"))
            ));
            for m in &request.mailboxes {
                line(&format!(
                    "Add-DistributionGroupMember -Identity {g} -Member {}",
                    quote(m)
                ));
            }
            line(
                "# 2. Restrict the app to that group's members (this covers Mail.ReadBasic.All too, which an outbox uses).",
            );
            line(&format!(
                "New-ApplicationAccessPolicy -AppId {app} -PolicyScopeGroupId {g} -AccessRight RestrictAccess -Description {}",
                quote(&format!("{name}: send only as members of {group}"))
            ));
            line("# 3. Test: AccessCheckResult must be Granted for these:");
            for m in &request.mailboxes {
                line(&format!(
                    "Test-ApplicationAccessPolicy -Identity {} -AppId {app}",
                    quote(m)
                ));
            }
            if !request.denied.is_empty() {
                line("#    and Denied for these:");
                for m in &request.denied {
                    line(&format!(
                        "Test-ApplicationAccessPolicy -Identity {} -AppId {app}",
                        quote(m)
                    ));
                }
            }
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {

    #[test]
    fn styles_parse_by_their_names_only() {
        for style in [PolicyStyle::Rbac, PolicyStyle::ApplicationAccessPolicy] {
            assert_eq!(style.name().parse::<PolicyStyle>().ok(), Some(style));
        }
        assert_eq!(
            "applicationAccessPolicy".parse::<PolicyStyle>().ok(),
            Some(PolicyStyle::ApplicationAccessPolicy)
        );
        let e = "RBAC".parse::<PolicyStyle>().unwrap_err();
        assert_eq!(e.field(), Some("style"));
        assert!(e.message().contains("'RBAC' is not one of"), "{e}");
    }

    use super::*;

    const APP: &str = "3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14";
    const SP: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

    fn request() -> PolicyRequest {
        PolicyRequest {
            app_id: APP.into(),
            service_principal_id: Some(SP.into()),
            display_name: Some("Contoso ERP".into()),
            mailboxes: vec!["erp@contoso.com".into(), "billing@contoso.com".into()],
            denied: vec!["ceo@contoso.com".into()],
            group: Some("erp-senders@contoso.com".into()),
        }
    }

    #[test]
    fn rbac_script_offers_the_outbox_read_role_in_the_same_scope() {
        let s = policy_script(&request(), PolicyStyle::Rbac).unwrap();
        assert!(
            s.contains(&format!(
                "# New-ManagementRoleAssignment -App '{APP}' -Role 'Application Mail.ReadBasic' -CustomResourceScope 'Contoso ERP senders'"
            )),
            "{s}"
        );
    }

    #[test]
    fn rbac_script_names_every_step() {
        let s = policy_script(&request(), PolicyStyle::Rbac).unwrap();
        assert!(s.contains(&format!(
            "New-ServicePrincipal -AppId '{APP}' -ObjectId '{SP}'"
        )));
        assert!(s.contains("-RecipientRestrictionFilter 'PrimarySmtpAddress -eq ''erp@contoso.com'' -or PrimarySmtpAddress -eq ''billing@contoso.com'''"));
        assert!(
            s.contains("-Role 'Application Mail.Send' -CustomResourceScope 'Contoso ERP senders'")
        );
        assert!(s.contains("Test-ServicePrincipalAuthorization -Identity '3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14' -Resource 'ceo@contoso.com'"));
        assert!(s.contains("Remove that consent"));
    }

    #[test]
    fn access_policy_script_uses_the_group() {
        let s = policy_script(&request(), PolicyStyle::ApplicationAccessPolicy).unwrap();
        assert!(s.contains("New-ApplicationAccessPolicy -AppId '3b9e6f2a-8c4d-4a1e-b7f5-0d2c9e8a6b14' -PolicyScopeGroupId 'erp-senders@contoso.com' -AccessRight RestrictAccess"));
        assert!(s.contains("Add-DistributionGroupMember -Identity 'erp-senders@contoso.com' -Member 'billing@contoso.com'"));
        assert!(s.contains("Test-ApplicationAccessPolicy -Identity 'ceo@contoso.com'"));
    }

    #[test]
    fn nothing_typed_escapes_a_string() {
        assert_eq!(quote("O'Brien"), "'O''Brien'");
        assert_eq!(quote("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
        let mut r = request();
        r.display_name = Some("x'; Remove-Mailbox ceo; '".into());
        assert_eq!(
            policy_script(&r, PolicyStyle::Rbac).unwrap_err().field(),
            Some("display_name")
        );
        let mut r = request();
        r.mailboxes = vec!["a@b.com' -or 1 -eq 1 #".into()];
        assert_eq!(
            policy_script(&r, PolicyStyle::Rbac).unwrap_err().field(),
            Some("mailboxes[0]")
        );
        let mut r = request();
        r.service_principal_id = None;
        assert_eq!(
            policy_script(&r, PolicyStyle::Rbac).unwrap_err().field(),
            Some("service_principal_id")
        );
        let mut r = request();
        r.group = None;
        assert_eq!(
            policy_script(&r, PolicyStyle::ApplicationAccessPolicy)
                .unwrap_err()
                .field(),
            Some("group")
        );
    }
}
