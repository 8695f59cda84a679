//! What a person should do about each error the identity platform or Graph
//! gives. One table, so every language shows the same advice.

/// What we know of the situation when the service refused.
#[derive(Debug, Default)]
pub(crate) struct HintContext<'a> {
    pub tenant_id: &'a str,
    pub client_id: &'a str,
    pub sender: Option<&'a str>,
    /// The configured secret has the shape of a GUID: almost surely the
    /// secret's ID, pasted instead of its value.
    pub secret_looks_like_id: bool,
    /// The roles in the token Graph refused, when it could be read.
    pub token_roles: Option<&'a [String]>,
    /// The client assertion came from the platform (a federated token file
    /// or a callback), not from a certificate of the app's.
    pub federated: bool,
    /// The token came from the host's managed identity; `client_id` is then
    /// the identity's, when known.
    pub managed_identity: bool,
}

const FEDERATED_CREDENTIAL: &str = "Compare the token with the app's federated credential \
(app registration > Certificates & secrets > Federated credentials): its issuer must be the \
platform's OIDC issuer URL exactly (for AKS: az aks show --query oidcIssuerProfile.issuerUrl), its \
subject the token's 'sub' (for a Kubernetes service account: \
system:serviceaccount:<namespace>:<service account>), its audience api://AzureADTokenExchange.";

const POLICY_DELAY: &str = "a change to RBAC for Applications or to an application access policy \
takes 30 minutes to a few hours to apply";

/// The hint for an identity-platform error (`AADSTS` number).
pub(crate) fn for_aadsts(number: u32, cx: &HintContext<'_>) -> Option<String> {
    let tenant = cx.tenant_id;
    let client = cx.client_id;
    let hint = match number {
        7000215 => {
            let mut h = String::from(
                "the client secret was refused. The app registration shows two strings for each \
                 secret: its 'Secret ID' (a GUID) and its 'Value' (shown once, when created). Set \
                 AZURE_CLIENT_SECRET to the Value; if it was not saved, create a new secret under \
                 Certificates & secrets.",
            );
            if cx.secret_looks_like_id {
                h.push_str(" The configured secret has the shape of a GUID, so it is almost surely the Secret ID.");
            }
            h
        }
        7000222 => {
            "the client secret has expired. Create a new one under Certificates & secrets in \
                    the app registration and update AZURE_CLIENT_SECRET, or move to a certificate \
                    credential (Microsoft's recommendation)."
                .into()
        }
        700027 => format!(
            "the identity platform does not know the certificate that signed the client \
             assertion: upload the certificate (its public part, a .cer or .pem file) to app \
             {client} under Certificates & secrets, and check that the thumbprint shown there \
             is the one of AZURE_CLIENT_CERTIFICATE_PATH (openssl x509 -noout -fingerprint \
             -sha1 -in cert.pem). A renewed certificate must be uploaded before it is used."
        ),
        700211 => format!(
            "no federated credential on app {client} trusts the token's issuer. \
             {FEDERATED_CREDENTIAL}"
        ),
        700212 => format!(
            "no federated credential on app {client} accepts the token's audience: the platform \
             must issue it for api://AzureADTokenExchange (AKS workload identity does). \
             {FEDERATED_CREDENTIAL}"
        ),
        700213 => format!(
            "no federated credential on app {client} has the token's subject: for a Kubernetes \
             service account the subject is system:serviceaccount:<namespace>:<service account>, \
             and both names must match the pod's. {FEDERATED_CREDENTIAL}"
        ),
        70021 => format!(
            "no federated credential on app {client} matches the token (issuer, subject and \
             audience together). {FEDERATED_CREDENTIAL}"
        ),
        700024 if cx.federated => "the federated token is expired or not yet valid: the \
                   platform stopped refreshing the token file (AKS rewrites the projected \
                   service account token well before it expires; check that \
                   AZURE_FEDERATED_TOKEN_FILE is the projected file and the pod's token volume), \
                   or this machine's clock is off (graphmailer doctor shows the skew)."
            .into(),
        700024 => "the client assertion was refused as outside its time window: check this \
                   machine's clock (graphmailer doctor shows the skew) and that the \
                   certificate is within its validity dates."
            .into(),
        700023 => "the client assertion's audience does not match the token endpoint: check \
                   AZURE_AUTHORITY_HOST and AZURE_TENANT_ID (and GRAPHMAILER_CLOUD) against \
                   the tenant the app is registered in."
            .into(),
        7000218 => "no credential reached the token endpoint: set AZURE_CLIENT_SECRET, or \
                    AZURE_CLIENT_CERTIFICATE_PATH for a certificate."
            .into(),
        700016 => format!(
            "no application with client ID {client} exists in tenant {tenant}. Check \
             AZURE_CLIENT_ID (the 'Application (client) ID' on the app registration's Overview \
             page, not its Object ID) and AZURE_TENANT_ID (the tenant where the app is registered)."
        ),
        7000112 => format!(
            "application {client} is disabled in tenant {tenant}: an administrator must enable \
             it (Enterprise applications > Properties > Enabled for users to sign-in)."
        ),
        90002 => format!(
            "tenant {tenant} was not found. Check AZURE_TENANT_ID (the 'Directory (tenant) ID') \
             and the cloud: a GCC High, DoD or 21Vianet tenant exists only in its own cloud \
             (GRAPHMAILER_CLOUD=usgov, usgovdod or china)."
        ),
        900023 => format!(
            "'{tenant}' is not a tenant ID: use the 'Directory (tenant) ID' GUID or a verified \
             domain of the tenant."
        ),
        9001023 => "app-only tokens need a specific tenant: set AZURE_TENANT_ID to the tenant's \
                    GUID or domain, not 'common', 'organizations' or 'consumers'."
            .into(),
        1002012 | 70011 | 700022 => "the scope must be one resource in '/.default' form, such as \
                                     https://graph.microsoft.com/.default; application \
                                     permissions are granted by consent, not by naming them in \
                                     the scope."
            .into(),
        500011 => format!(
            "tenant {tenant} knows no resource by the name in the scope: the scope must be \
             Microsoft Graph's, https://graph.microsoft.com/.default (or the cloud's Graph, \
             GRAPHMAILER_CLOUD); check GRAPHMAILER_SCOPE, the tenant and the cloud."
        ),
        50049 => "the authority host is wrong for this cloud: check AZURE_AUTHORITY_HOST and \
                  GRAPHMAILER_CLOUD."
            .into(),
        53003 => "a Conditional Access policy blocked the token request: an administrator must \
                  exclude this workload identity or allow its network location."
            .into(),
        _ => return None,
    };
    Some(hint)
}

/// The hint for a Graph error code.
pub(crate) fn for_graph(code: &str, message: &str, cx: &HintContext<'_>) -> Option<String> {
    let sender = cx.sender.unwrap_or("the sender");
    let hint = match code {
        "ErrorAccessDenied" | "Authorization_RequestDenied" => {
            let has_mail_send = cx
                .token_roles
                .map(|roles| roles.iter().any(|r| r == "Mail.Send"));
            match has_mail_send {
                Some(false) if cx.managed_identity => format!(
                    "the managed identity's token carries no Mail.Send role. A managed identity \
                     has no app registration to add permissions to: an administrator grants the \
                     role to its service principal with PowerShell, then scopes it as for an app \
                     (graphmailer policy). {}",
                    crate::powershell::grant_mail_send_script(cx.client_id)
                ),
                Some(false) => format!(
                    "the app's token carries no Mail.Send role. In the app registration, add \
                     Microsoft Graph > Application permissions > Mail.Send (not the Delegated \
                     one) and have an administrator 'Grant admin consent' (app {}).",
                    cx.client_id
                ),
                _ => format!(
                    "the tenant does not let this app send as {sender}: the mailbox is outside \
                     the app's RBAC for Applications scope or application access policy. If \
                     {sender} should be allowed, add it to the scope (or the mail-enabled \
                     security group of the policy); {POLICY_DELAY}. If it should not, this \
                     refusal is the restriction working."
                ),
            }
        }
        "NoPermissionsInAccessToken" => format!(
            "the token carries no application permissions: add Microsoft Graph > Application \
             permissions > Mail.Send to app {} and have an administrator 'Grant admin consent'.",
            cx.client_id
        ),
        "ErrorSendAsDenied" => format!(
            "the app may send as {sender} but not in the name of another address: send from the \
             mailbox itself (put it as the sender) or grant Send As on it."
        ),
        "ErrorInvalidUser" => format!(
            "no user {sender} exists in tenant {}: check the address (use the user principal \
             name or primary SMTP address) and the tenant.",
            cx.tenant_id
        ),
        "MailboxNotEnabledForRESTAPI" | "ResourceNotFound" => format!(
            "{sender} has no Exchange Online mailbox: it needs a licence that includes Exchange \
             Online (shared mailboxes need none), and mailboxes on premises or soft-deleted \
             cannot be reached through Graph."
        ),
        "InvalidAuthenticationToken" => "Graph refused the access token even after a fresh one \
                                         was fetched: check this machine's clock, and that the \
                                         token was issued for Microsoft Graph in the same cloud \
                                         as the Graph endpoint."
            .into(),
        "RequestEntityTooLarge" => format!(
            "the request is larger than Graph's 4 MB limit for one call: {}",
            crate::wire::LARGE_MESSAGES_HINT
        ),
        "ErrorMessageSizeExceeded" => format!(
            "the message is larger than {sender}'s maximum send size (35 MB unless an \
             administrator raised it, at most 150 MB): send fewer or smaller attachments, or have \
             an administrator raise it (Set-Mailbox {sender} -MaxSendSize 150MB)."
        ),
        "ErrorInvalidRecipients" => "Graph could not use the recipients: check every address in \
                                     to, cc and bcc."
            .into(),
        "InvalidInternetMessageHeaderCollection" => "Graph accepts at most 5 custom headers, each \
                                                     named x-something."
            .into(),
        "ApplicationThrottled" | "TooManyRequests" | "ErrorTooManyObjectsOpened" => format!(
            "Graph throttles each app per mailbox (4 requests at once, 10,000 per 10 minutes): \
             slow down or spread the load over time, and retry {sender}'s mail later."
        ),
        "BadRequest" if message.contains("/me") => "an app-only token cannot use /me: name the \
                                                    sender mailbox (users/{sender})."
            .into(),
        "BadRequest" if message.contains("4MB") => format!(
            "the request is larger than Graph's 4 MB limit: {}",
            crate::wire::LARGE_MESSAGES_HINT
        ),
        _ => return None,
    };
    Some(hint)
}

/// The hint for a mail that may or may not have gone out.
pub(crate) fn for_ambiguous(sender: &str) -> String {
    format!(
        "the request reached Microsoft but no answer came back, so the mail may have been sent. \
         It was not retried, to avoid sending it twice: look in {sender}'s Sent Items (when \
         saveToSentItems is on) or ask a recipient before sending it again."
    )
}

/// A send cancelled (its future dropped) while a request that sends mail
/// waited for Graph's answer.
pub(crate) fn for_cancelled_in_flight(sender: &str) -> String {
    format!(
        "the send was cancelled after its request reached Microsoft, so the mail may have been \
         sent. Look in {sender}'s Sent Items (when saveToSentItems is on) or ask a recipient \
         before sending it again."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_id_hint_is_specific_when_the_secret_is_a_guid() {
        let cx = HintContext {
            secret_looks_like_id: true,
            ..Default::default()
        };
        assert!(for_aadsts(7000215, &cx).unwrap().contains("Secret ID"));
        assert!(
            for_aadsts(7000215, &cx)
                .unwrap()
                .contains("shape of a GUID")
        );
        let cx = HintContext::default();
        assert!(
            !for_aadsts(7000215, &cx)
                .unwrap()
                .contains("shape of a GUID")
        );
    }

    #[test]
    fn federated_hints_say_what_to_compare_and_expiry_depends_on_the_credential() {
        let cx = HintContext {
            client_id: "7e1d5a3c-9b2f-4c8e-a6d4-3f2b1c0e9d8a",
            federated: true,
            ..Default::default()
        };
        for n in [700211, 700212, 700213, 70021] {
            let h = for_aadsts(n, &cx).unwrap();
            assert!(
                h.contains("api://AzureADTokenExchange") && h.contains(cx.client_id),
                "{h}"
            );
        }
        assert!(
            for_aadsts(700213, &cx)
                .unwrap()
                .contains("system:serviceaccount:<namespace>")
        );
        assert!(
            for_aadsts(700024, &cx)
                .unwrap()
                .contains("stopped refreshing")
        );
        let certificate = HintContext::default();
        assert!(
            for_aadsts(700024, &certificate)
                .unwrap()
                .contains("certificate")
        );
    }

    #[test]
    fn a_managed_identity_without_mail_send_gets_the_grant() {
        let none: Vec<String> = vec![];
        let cx = HintContext {
            client_id: "0f1e2d3c-4b5a-4968-8776-655443322110",
            managed_identity: true,
            token_roles: Some(&none),
            ..Default::default()
        };
        let h = for_graph("ErrorAccessDenied", "", &cx).unwrap();
        assert!(h.contains("New-MgServicePrincipalAppRoleAssignment"), "{h}");
        assert!(
            h.contains("appId eq '0f1e2d3c-4b5a-4968-8776-655443322110'"),
            "{h}"
        );
        let unknown = HintContext {
            client_id: "'; Remove-Item",
            ..cx
        };
        let h = for_graph("ErrorAccessDenied", "", &unknown).unwrap();
        assert!(!h.contains("Remove-Item") && h.contains("<client ID of the managed identity>"));
    }

    #[test]
    fn access_denied_hint_tells_consent_from_policy() {
        let none = vec!["User.Read.All".to_string()];
        let some = vec!["Mail.Send".to_string()];
        let cx = HintContext {
            token_roles: Some(&none),
            ..Default::default()
        };
        assert!(
            for_graph("ErrorAccessDenied", "", &cx)
                .unwrap()
                .contains("admin consent")
        );
        let cx = HintContext {
            token_roles: Some(&some),
            sender: Some("ceo@contoso.test"),
            ..Default::default()
        };
        let h = for_graph("ErrorAccessDenied", "", &cx).unwrap();
        assert!(h.contains("ceo@contoso.test") && h.contains("30 minutes"));
    }
}
