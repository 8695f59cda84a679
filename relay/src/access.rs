//! Who may send as which mailbox: users who log in, and networks that may
//! relay without a login. Each grant names the one mailer (app registration)
//! its mail goes out through.

use std::net::IpAddr;
use std::sync::Arc;

use graphmailer::{Result, SenderPolicy};

use crate::config::RelayConfig;

/// What a session may do once it is known who is talking.
#[derive(Clone, Debug)]
pub struct Grant {
    /// Who, for logs: `user NAME` or `network CIDR`.
    pub principal: String,
    /// Index into the relay's mailers.
    pub mailer: usize,
    pub may_send_as: SenderPolicy,
}

struct User {
    name: String,
    password_hash: String,
    grant: Grant,
}

pub struct Access {
    users: Vec<User>,
    networks: Vec<(ipnet::IpNet, Grant)>,
}

impl Access {
    pub fn new(config: &RelayConfig) -> Result<Arc<Access>> {
        let mailer = |name: &str| {
            config
                .mailers
                .iter()
                .position(|m| m.name == name)
                .unwrap_or_default()
        };
        let mut users = Vec::new();
        for u in &config.users {
            users.push(User {
                name: u.name.clone(),
                password_hash: u.password_hash.clone(),
                grant: Grant {
                    principal: format!("user {}", u.name),
                    mailer: mailer(&u.mailer),
                    may_send_as: SenderPolicy::new(&u.may_send_as)?,
                },
            });
        }
        let mut networks = Vec::new();
        for n in &config.networks {
            networks.push((
                n.cidr,
                Grant {
                    principal: format!("network {}", n.cidr),
                    mailer: mailer(&n.mailer),
                    may_send_as: SenderPolicy::new(&n.may_send_as)?,
                },
            ));
        }
        // The most specific network wins, so a /32 for one printer can narrow a /24.
        networks.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        Ok(Arc::new(Access { users, networks }))
    }

    /// The grant of the most specific listed network holding `ip`.
    pub fn network(&self, ip: IpAddr) -> Option<&Grant> {
        let ip = canonical(ip);
        self.networks
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|(_, g)| g)
    }

    /// Checks a login. Slow on purpose (argon2); an unknown user costs the
    /// same as a wrong password, so names cannot be probed by timing.
    pub fn login(&self, username: &str, password: &[u8]) -> Option<Grant> {
        match self.users.iter().find(|u| u.name == username) {
            Some(user) => crate::password::verify_password(password, &user.password_hash)
                .then(|| user.grant.clone()),
            None => {
                crate::password::verify_password(password, dummy_hash());
                None
            }
        }
    }
}

/// An IPv4 client seen through a dual-stack socket (`::ffff:10.0.0.5`)
/// must match an IPv4 network.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| crate::password::hash_password("no such user").unwrap_or_default())
}
