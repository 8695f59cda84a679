//! `GET /v1.0/users/{id}`: lets a diagnostic tool check that a sender
//! exists, with the directory permissions Graph asks for (`User.Read.All`
//! and friends; `Mail.Send` is not enough).

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::graph_error::graph_error;
use super::request::{Answer, GraphRequest};

const READ_ROLES: &[&str] = &[
    "User.Read.All",
    "User.ReadBasic.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

pub(super) fn get_user(request: &GraphRequest, id: &str) -> Answer {
    let (shared, ids) = (&*request.shared, &request.ids);
    let caller = request.caller()?;
    if !caller
        .roles()
        .iter()
        .any(|r| READ_ROLES.iter().any(|w| w.eq_ignore_ascii_case(r)))
    {
        return Err(graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            ids,
        ));
    }
    let mailbox = shared
        .directory
        .tenant_by_id(caller.tenant_id)
        .and_then(|t| t.mailbox(id));
    let Some(mailbox) = mailbox else {
        return Err(graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
            ids,
        ));
    };
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({
            "@odata.context": format!("{}/v1.0/$metadata#users/$entity", shared.origin),
            "id": mailbox.id,
            "displayName": mailbox.display_name,
            "mail": mailbox.address,
            "userPrincipalName": mailbox.address,
        })),
    )
        .into_response())
}
