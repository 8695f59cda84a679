//! Where a host's managed identity hands out tokens: App Service's endpoint
//! (`IDENTITY_ENDPOINT` with `IDENTITY_HEADER`) when the environment names
//! one, else the Instance Metadata Service, as Azure's SDKs read them. Only
//! the description lives here (the configuration holds it); asking for a
//! token is `token::managed_identity`'s.

use url::Url;

use crate::secret::Secret;

/// The metadata service's origin unless `AZURE_POD_IDENTITY_AUTHORITY_HOST`
/// says otherwise.
pub(crate) const IMDS_HOST: &str = "http://169.254.169.254";
pub(crate) const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
const IMDS_API_VERSION: &str = "2018-02-01";
const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// Where the host's identity endpoint is.
#[derive(Clone, Debug)]
pub(crate) enum Endpoint {
    /// The Instance Metadata Service (Azure VMs, AKS nodes), at this origin.
    Imds(Url),
    /// App Service and Functions: the endpoint and the secret header value.
    AppService { url: Url, header: Secret },
}

/// A managed identity: system-assigned, or a user-assigned one named by its
/// client ID.
#[derive(Clone, Debug)]
pub struct ManagedIdentity {
    pub(crate) endpoint: Endpoint,
    pub(crate) client_id: Option<String>,
}

impl ManagedIdentity {
    pub(crate) fn kind(&self) -> &'static str {
        match (&self.endpoint, &self.client_id) {
            (Endpoint::Imds(_), None) => "managed identity (IMDS, system-assigned)",
            (Endpoint::Imds(_), Some(_)) => "managed identity (IMDS, user-assigned)",
            (Endpoint::AppService { .. }, None) => {
                "managed identity (App Service, system-assigned)"
            }
            (Endpoint::AppService { .. }, Some(_)) => {
                "managed identity (App Service, user-assigned)"
            }
        }
    }

    /// The token request's URL for Graph's resource.
    pub(crate) fn request_url(&self, resource: &str) -> Url {
        let (mut url, version) = match &self.endpoint {
            Endpoint::Imds(origin) => {
                let mut url = origin.clone();
                url.set_path(IMDS_PATH);
                (url, IMDS_API_VERSION)
            }
            Endpoint::AppService { url, .. } => (url.clone(), APP_SERVICE_API_VERSION),
        };
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("api-version", version)
                .append_pair("resource", resource);
            if let Some(id) = &self.client_id {
                query.append_pair("client_id", id);
            }
        }
        url
    }

    /// The endpoint's URL, for diagnostics.
    pub(crate) fn endpoint_url(&self) -> String {
        match &self.endpoint {
            Endpoint::Imds(origin) => origin.join(IMDS_PATH).map(String::from).unwrap_or_default(),
            Endpoint::AppService { url, .. } => url.to_string(),
        }
    }

    /// The metadata service at its usual address.
    pub(crate) fn imds_default() -> ManagedIdentity {
        ManagedIdentity {
            endpoint: Endpoint::Imds(
                Url::parse(IMDS_HOST).expect("the metadata service's address parses"),
            ),
            client_id: None,
        }
    }

    pub(crate) fn endpoint_name(&self) -> &'static str {
        match self.endpoint {
            Endpoint::Imds(_) => "the Instance Metadata Service",
            Endpoint::AppService { .. } => "the App Service identity endpoint (IDENTITY_ENDPOINT)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls_follow_each_endpoint() {
        let imds = ManagedIdentity {
            endpoint: Endpoint::Imds(Url::parse(IMDS_HOST).unwrap()),
            client_id: Some("0f1e2d3c-4b5a-4968-8776-655443322110".into()),
        };
        assert_eq!(
            imds.request_url("https://graph.microsoft.us").as_str(),
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fgraph.microsoft.us&client_id=0f1e2d3c-4b5a-4968-8776-655443322110"
        );
        let app = ManagedIdentity {
            endpoint: Endpoint::AppService {
                url: Url::parse("http://127.0.0.1:41741/MSI/token/").unwrap(),
                header: Secret::new("h"),
            },
            client_id: None,
        };
        assert_eq!(
            app.request_url("https://graph.microsoft.com").as_str(),
            "http://127.0.0.1:41741/MSI/token/?api-version=2019-08-01&resource=https%3A%2F%2Fgraph.microsoft.com"
        );
        assert!(!format!("{app:?}").contains("\"h\""));
    }
}
