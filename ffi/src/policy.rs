//! The administrator's PowerShell that restricts which mailboxes the app may
//! send as.

use std::ffi::c_char;

use gm_core::{PolicyRequest, PolicyStyle};

use crate::args;
use crate::error::{Failure, call};
use crate::status::graphmailer_status;
use crate::strings;

/// Which restriction graphmailer_policy_script writes.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum graphmailer_policy_style {
    /// RBAC for Applications, Microsoft's current way (needs
    /// service_principal_id).
    GRAPHMAILER_POLICY_RBAC = 0,
    /// The older New-ApplicationAccessPolicy with a mail-enabled security group.
    GRAPHMAILER_POLICY_APPLICATION_ACCESS_POLICY = 1,
}

/// What the script restricts. Zero-initialize it and fill in what you need;
/// NULL pointers and empty strings mean "not given".
#[repr(C)]
pub struct graphmailer_policy_request {
    /// Required: the app registration's Application (client) ID.
    pub app_id: *const c_char,
    /// The enterprise application's (service principal's) Object ID; needed
    /// for GRAPHMAILER_POLICY_RBAC.
    pub service_principal_id: *const c_char,
    /// A name for the service principal and the scope (default "graphmailer").
    pub display_name: *const c_char,
    /// The `mailboxes_len` mailboxes the app may send as (at least one).
    pub mailboxes: *const *const c_char,
    /// The number of strings in mailboxes.
    pub mailboxes_len: usize,
    /// `denied_len` mailboxes to show as refused in the script's test lines.
    pub denied: *const *const c_char,
    /// The number of strings in denied.
    pub denied_len: usize,
    /// The mail-enabled security group of an application access policy.
    pub group: *const c_char,
}

/// Writes the Exchange Online PowerShell an administrator runs to restrict
/// the app to `request`'s mailboxes, with the warnings they must read as
/// comments. Every value is validated by the core and quoted, so nothing
/// typed can break out of a string. `style` is a graphmailer_policy_style;
/// another number returns GRAPHMAILER_ERR_INVALID_ARGUMENT. A bad value
/// returns GRAPHMAILER_ERR_CONFIG naming the field ("app_id",
/// "mailboxes[1]", ...). The script is the caller's: release it with
/// graphmailer_string_free.
///
/// # Safety
/// `request` points to a graphmailer_policy_request whose pointers are valid
/// as documented there; `script_out` points to writable memory for one
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn graphmailer_policy_script(
    request: *const graphmailer_policy_request,
    style: u32,
    script_out: *mut *mut c_char,
) -> graphmailer_status {
    call("graphmailer_policy_script", || {
        if request.is_null() {
            return Err(Failure::null("request"));
        }
        let out = args::out(script_out, "script_out")?;
        // SAFETY: non-NULL, and the caller promised a valid struct.
        let r = unsafe { &*request };
        use graphmailer_policy_style::*;
        let style = match style {
            s if s == GRAPHMAILER_POLICY_RBAC as u32 => PolicyStyle::Rbac,
            s if s == GRAPHMAILER_POLICY_APPLICATION_ACCESS_POLICY as u32 => {
                PolicyStyle::ApplicationAccessPolicy
            }
            other => {
                return Err(Failure::invalid(
                    "style",
                    format!("is {other}, not a graphmailer_policy_style (0 or 1)"),
                ));
            }
        };
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let request = PolicyRequest {
            app_id: unsafe { args::setting(r.app_id, "app_id") }?
                .unwrap_or_default()
                .to_owned(),
            service_principal_id: owned(unsafe {
                args::setting(r.service_principal_id, "service_principal_id")
            }?),
            display_name: owned(unsafe { args::setting(r.display_name, "display_name") }?),
            mailboxes: unsafe { args::strings(r.mailboxes, r.mailboxes_len, "mailboxes") }?,
            denied: unsafe { args::strings(r.denied, r.denied_len, "denied") }?,
            group: owned(unsafe { args::setting(r.group, "group") }?),
        };
        let script = gm_core::policy_script(&request, style)?;
        // SAFETY: checked non-NULL; the caller promised writable memory.
        unsafe { out.write(strings::hand_over(&script)) };
        Ok(())
    })
}
