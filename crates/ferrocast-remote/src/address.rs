//! Node addresses and remote actor paths.
//!
//! A node is `ferrocast://system@host:port`; an incarnation of it adds a
//! uid that changes on every start ([`UniqueAddress`]). A remote actor is
//! named by its node, its path and (once resolved) its incarnation:
//! `ferrocast://orders@10.0.0.5:2552/user/cart-7#42:9137` is actor id 42 of
//! node incarnation 9137.

use std::fmt;
use std::str::FromStr;

/// The scheme of every remote address.
pub const SCHEME: &str = "ferrocast://";

/// Where a node listens: its actor system's name, host and port.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddress {
    /// The actor system's name; a handshake with another name is refused.
    pub system: String,
    /// Host name or IP, as other nodes reach it.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl NodeAddress {
    /// An address from its parts.
    pub fn new(system: impl Into<String>, host: impl Into<String>, port: u16) -> Self {
        NodeAddress {
            system: system.into(),
            host: host.into(),
            port,
        }
    }

    /// `host:port`, for connecting.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for NodeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}@{}", self.system, self.host_port())
    }
}

impl fmt::Debug for NodeAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A text that is not a valid address or path, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid remote address {text:?}: {reason}")]
pub struct AddressError {
    /// The text.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn bad(text: &str, reason: &'static str) -> AddressError {
    AddressError {
        text: text.to_owned(),
        reason,
    }
}

/// Parses `system@host:port` (without scheme); returns the address.
fn parse_authority(text: &str, full: &str) -> Result<NodeAddress, AddressError> {
    let (system, host_port) = text
        .split_once('@')
        .ok_or_else(|| bad(full, "expected system@host:port"))?;
    if system.is_empty()
        || !system
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad(
            full,
            "the system name must be non-empty ASCII letters, digits, '-' or '_'",
        ));
    }
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, port) = rest
            .split_once("]:")
            .ok_or_else(|| bad(full, "expected [ipv6]:port"))?;
        (host, port)
    } else {
        host_port
            .rsplit_once(':')
            .ok_or_else(|| bad(full, "expected host:port"))?
    };
    if host.is_empty() || host.contains('/') || host.contains('@') {
        return Err(bad(full, "the host is empty or contains '/' or '@'"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| bad(full, "the port is not a number from 0 to 65535"))?;
    Ok(NodeAddress::new(system, host, port))
}

impl FromStr for NodeAddress {
    type Err = AddressError;

    /// Parses `ferrocast://system@host:port` (the scheme is optional).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix(SCHEME).unwrap_or(s);
        if rest.contains('/') {
            return Err(bad(s, "a node address has no path"));
        }
        parse_authority(rest, s)
    }
}

/// A node incarnation: its address and the uid of this start.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueAddress {
    /// Where it listens.
    pub address: NodeAddress,
    /// Changes on every start (the actor system's uid).
    pub uid: u64,
}

impl fmt::Display for UniqueAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.address, self.uid)
    }
}

impl fmt::Debug for UniqueAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The full path of an actor: its node and its path there, and optionally
/// the incarnation it names (`#actor-id:node-uid`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RemotePath {
    /// The node.
    pub address: NodeAddress,
    /// The path inside the node's system, starting with `/`.
    pub path: String,
    /// `(actor id, node uid)` when the path names one incarnation.
    pub incarnation: Option<(u64, u64)>,
}

impl RemotePath {
    /// A path to `path` (such as `/user/cart-7`) on `address`.
    pub fn new(address: NodeAddress, path: impl Into<String>) -> Self {
        RemotePath {
            address,
            path: path.into(),
            incarnation: None,
        }
    }
}

impl fmt::Display for RemotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.address, self.path)?;
        if let Some((actor, node)) = self.incarnation {
            write!(f, "#{actor}:{node}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for RemotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for RemotePath {
    type Err = AddressError;

    /// Parses `ferrocast://system@host:port/path[#actor:node]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad(s, "a remote path starts with ferrocast://"))?;
        let slash = rest
            .find('/')
            .ok_or_else(|| bad(s, "expected a path after the address"))?;
        let address = parse_authority(&rest[..slash], s)?;
        let (path, incarnation) = match rest[slash..].split_once('#') {
            None => (&rest[slash..], None),
            Some((path, inc)) => {
                let (actor, node) = inc
                    .split_once(':')
                    .ok_or_else(|| bad(s, "expected #actor-id:node-uid"))?;
                let actor = actor
                    .parse()
                    .map_err(|_| bad(s, "the actor id is not a number"))?;
                let node = node
                    .parse()
                    .map_err(|_| bad(s, "the node uid is not a number"))?;
                (path, Some((actor, node)))
            }
        };
        if path.len() < 2
            || path.contains("//")
            || path.ends_with('/')
            || path.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad(s, "the path is empty or malformed"));
        }
        Ok(RemotePath {
            address,
            path: path.to_owned(),
            incarnation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        let a: NodeAddress = "ferrocast://orders@10.0.0.5:2552".parse().unwrap();
        assert_eq!(a, NodeAddress::new("orders", "10.0.0.5", 2552));
        assert_eq!(a.to_string(), "ferrocast://orders@10.0.0.5:2552");
        let v6: NodeAddress = "ferrocast://s@[::1]:7".parse().unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.host_port(), "[::1]:7");
        assert_eq!(v6.to_string().parse::<NodeAddress>().unwrap(), v6);
    }

    #[test]
    fn paths_round_trip_with_and_without_incarnation() {
        let p: RemotePath = "ferrocast://orders@10.0.0.5:2552/user/cart-7"
            .parse()
            .unwrap();
        assert_eq!(p.path, "/user/cart-7");
        assert_eq!(p.incarnation, None);
        let q: RemotePath = "ferrocast://orders@h:1/user/cart-7#42:9137"
            .parse()
            .unwrap();
        assert_eq!(q.incarnation, Some((42, 9137)));
        assert_eq!(q.to_string(), "ferrocast://orders@h:1/user/cart-7#42:9137");
    }

    #[test]
    fn bad_text_is_a_typed_error() {
        for text in [
            "",
            "ferrocast://",
            "ferrocast://orders",
            "ferrocast://@h:1/user/x",
            "ferrocast://o@h/user/x",
            "ferrocast://o@h:99999/user/x",
            "ferrocast://o@h:1",
            "ferrocast://o@h:1/",
            "ferrocast://o@h:1/user//x",
            "ferrocast://o@h:1/user/x#1",
            "ferrocast://o@h:1/user/x#a:b",
            "http://o@h:1/user/x",
        ] {
            assert!(text.parse::<RemotePath>().is_err(), "{text}");
        }
        assert!("o@h:1/x".parse::<NodeAddress>().is_err());
        assert!("o h@h:1".parse::<NodeAddress>().is_err());
    }
}
