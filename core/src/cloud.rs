//! The Microsoft clouds: each has its own login host, Graph host and scope,
//! and tokens never cross from one to another (AADSTS90002).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A Microsoft 365 cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Cloud {
    /// The global cloud, Microsoft 365 GCC included.
    #[default]
    Global,
    /// US Government L4 (GCC High).
    UsGov,
    /// US Government L5 (DoD).
    UsGovDod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// Every cloud, for listings and error messages.
    pub const ALL: [Cloud; 4] = [Cloud::Global, Cloud::UsGov, Cloud::UsGovDod, Cloud::China];

    /// The identity platform's origin (the "authority host").
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::UsGovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// Microsoft Graph's origin.
    pub fn graph_endpoint(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The client-credentials scope: always the Graph resource in `/.default`
    /// form, because app-only tokens carry whatever application permissions
    /// were consented, never a subset asked for at run time.
    pub fn scope(self) -> String {
        format!("{}/.default", self.graph_endpoint())
    }

    /// The name used in configuration (`GRAPHMAILER_CLOUD`).
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::UsGovDod => "usgovdod",
            Cloud::China => "china",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cloud {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match folded.as_str() {
            "global" | "public" | "azurepubliccloud" | "gcc" => Ok(Cloud::Global),
            "usgov" | "gcchigh" | "usgovernment" | "azureusgovernment" | "l4" => Ok(Cloud::UsGov),
            "usgovdod" | "dod" | "l5" => Ok(Cloud::UsGovDod),
            "china" | "21vianet" | "azurechinacloud" => Ok(Cloud::China),
            _ => Err(Error::config(
                "GRAPHMAILER_CLOUD",
                format!(
                    "unknown cloud '{}': use one of global, usgov (GCC High), usgovdod (DoD), china (21Vianet)",
                    crate::address::printable(s)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_has_its_own_hosts_and_scope() {
        assert_eq!(
            Cloud::UsGovDod.scope(),
            "https://dod-graph.microsoft.us/.default"
        );
        assert_eq!(
            Cloud::UsGov.authority_host(),
            Cloud::UsGovDod.authority_host()
        );
        assert_eq!("GCC-High".parse::<Cloud>().ok(), Some(Cloud::UsGov));
        assert_eq!("21Vianet".parse::<Cloud>().ok(), Some(Cloud::China));
        let e = "mars".parse::<Cloud>().unwrap_err();
        assert!(e.message().contains("usgov"));
        assert_eq!(e.field(), Some("GRAPHMAILER_CLOUD"));
        for cloud in Cloud::ALL {
            assert_eq!(cloud.name().parse::<Cloud>().ok(), Some(cloud));
        }
    }
}
