//! The `node` command's arguments, parsed by hand (the demo has no
//! argument-parsing dependency): every mistake is an error naming the
//! flag, never a panic.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::num::NonZeroUsize;

use anyhow::{Context as _, bail};
use ferrocast::remote::NodeAddress;
use ferrocast_cluster::{ClusterSettings, SbrSettings, Strategy};

pub(crate) const USAGE: &str = "\
usage: ferrocast-demo node --bind HOST:PORT [--system NAME] [--seed HOST:PORT[,HOST:PORT...]]...
                           [--http HOST:PORT] [--role ROLE]...
                           [--downing keep-majority|static-quorum=N|keep-oldest|down-all] [--fast]

  --system   the actor system's name, the same on every member (default: demo)
  --bind     where this member's remoting listens
  --seed     seed nodes (default: this member, which then forms a new cluster)
  --http     where the management endpoint listens (/alive, /ready, /cluster/members)
  --role     a role of this member (repeatable)
  --downing  the split brain resolver's strategy (default: keep-majority)
  --fast     fast failover settings (a crashed member is removed in about 3 s)

Runs until this member is removed or downed (exit 0 after coordinated
shutdown), or until SIGTERM or ctrl-c (it leaves the cluster gracefully).";

/// The split brain resolver strategy asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Downing {
    KeepMajority,
    StaticQuorum(NonZeroUsize),
    KeepOldest,
    DownAll,
}

/// What `node` was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeArgs {
    pub(crate) system: String,
    pub(crate) bind_host: String,
    pub(crate) bind_port: u16,
    /// `host:port` of each seed; the system name is added later.
    pub(crate) seeds: Vec<(String, u16)>,
    pub(crate) http: Option<SocketAddr>,
    pub(crate) roles: BTreeSet<String>,
    pub(crate) downing: Downing,
    pub(crate) fast: bool,
}

/// `Ok(None)`: help was asked for.
pub(crate) fn parse(args: &[String]) -> anyhow::Result<Option<NodeArgs>> {
    let mut system = "demo".to_owned();
    let mut bind = None;
    let mut seeds = Vec::new();
    let mut http = None;
    let mut roles = BTreeSet::new();
    let mut downing = Downing::KeepMajority;
    let mut fast = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        // `--flag value` and `--flag=value` both work.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> anyhow::Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value")),
            }
        };
        match flag {
            "--system" => system = value()?,
            "--bind" => bind = Some(host_port("--bind", &value()?)?),
            "--seed" | "--seeds" => {
                for s in value()?.split(',').filter(|s| !s.trim().is_empty()) {
                    seeds.push(host_port("--seed", s.trim())?);
                }
            }
            "--http" => {
                let v = value()?;
                let addr = v.parse().map_err(|_| {
                    anyhow::anyhow!("--http {v:?}: expected IP:PORT, like 127.0.0.1:8558")
                })?;
                http = Some(addr);
            }
            "--role" => {
                let r = value()?;
                if r.is_empty() || r.contains(char::is_whitespace) {
                    bail!("--role {r:?}: a role is a non-empty word");
                }
                roles.insert(r);
            }
            "--downing" => downing = parse_downing(&value()?)?,
            "--fast" if inline.is_none() => fast = true,
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    if system.is_empty()
        || !system
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("--system {system:?}: use ASCII letters, digits, '-' or '_'");
    }
    let Some((bind_host, bind_port)) = bind else {
        bail!("--bind HOST:PORT is required\n\n{USAGE}");
    };
    if bind_port == 0 && seeds.is_empty() {
        bail!("--bind with port 0 needs --seed: other members could not find this one");
    }
    Ok(Some(NodeArgs {
        system,
        bind_host,
        bind_port,
        seeds,
        http,
        roles,
        downing,
        fast,
    }))
}

/// `host:port` or `[ipv6]:port`.
fn host_port(flag: &str, text: &str) -> anyhow::Result<(String, u16)> {
    let parsed = match text.strip_prefix('[') {
        Some(rest) => rest.split_once("]:"),
        None => text.rsplit_once(':'),
    };
    let Some((host, port)) = parsed else {
        bail!("{flag} {text:?}: expected HOST:PORT");
    };
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        bail!("{flag} {text:?}: the host is empty or not a host name");
    }
    let port = port.parse().map_err(|_| {
        anyhow::anyhow!("{flag} {text:?}: the port is not a number from 0 to 65535")
    })?;
    Ok((host.to_owned(), port))
}

fn parse_downing(text: &str) -> anyhow::Result<Downing> {
    Ok(match text {
        "keep-majority" => Downing::KeepMajority,
        "keep-oldest" => Downing::KeepOldest,
        "down-all" => Downing::DownAll,
        _ => match text.strip_prefix("static-quorum=") {
            Some(n) => Downing::StaticQuorum(n.parse().map_err(|_| {
                anyhow::anyhow!("--downing {text:?}: the quorum must be a positive number")
            })?),
            None => bail!(
                "--downing {text:?}: expected keep-majority, static-quorum=N, keep-oldest or down-all"
            ),
        },
    })
}

impl NodeArgs {
    /// The cluster settings, for a member listening at `me`.
    pub(crate) fn settings(&self, me: &NodeAddress) -> ClusterSettings {
        let mut s = if self.fast {
            ClusterSettings::fast_failover()
        } else {
            ClusterSettings::default()
        };
        s.seed_nodes = if self.seeds.is_empty() {
            vec![me.clone()]
        } else {
            let mut seeds: Vec<NodeAddress> = Vec::new();
            for (h, p) in &self.seeds {
                let a = NodeAddress::new(self.system.clone(), h.clone(), *p);
                if !seeds.contains(&a) {
                    seeds.push(a);
                }
            }
            seeds
        };
        s.roles = self.roles.clone();
        let strategy = match self.downing {
            Downing::KeepMajority => Strategy::KeepMajority { role: None },
            Downing::StaticQuorum(n) => Strategy::StaticQuorum {
                quorum_size: n.get(),
                role: None,
            },
            Downing::KeepOldest => Strategy::KeepOldest {
                down_if_alone: true,
                role: None,
            },
            Downing::DownAll => Strategy::DownAll,
        };
        let mut sbr = s.downing.take().unwrap_or_else(SbrSettings::default);
        sbr.strategy = strategy;
        s.downing = Some(sbr);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> anyhow::Result<Option<NodeArgs>> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    fn err(line: &str) -> String {
        format!("{:#}", parse_str(line).unwrap_err())
    }

    #[test]
    fn a_full_command_line() {
        let a = parse_str(
            "--system shop --bind 127.0.0.1:2551 --seed 127.0.0.1:2551,127.0.0.1:2552 \
             --seed=[::1]:2553 --http 127.0.0.1:8558 --role backend --role=api \
             --downing static-quorum=2 --fast",
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.system, "shop");
        assert_eq!((a.bind_host.as_str(), a.bind_port), ("127.0.0.1", 2551));
        assert_eq!(a.seeds.len(), 3);
        assert_eq!(a.seeds[2], ("::1".to_owned(), 2553));
        assert_eq!(a.http, Some("127.0.0.1:8558".parse().unwrap()));
        assert_eq!(a.roles.len(), 2);
        assert_eq!(
            a.downing,
            Downing::StaticQuorum(NonZeroUsize::new(2).unwrap())
        );
        assert!(a.fast);
        let s = a.settings(&NodeAddress::new("shop", "127.0.0.1", 2551));
        assert_eq!(s.seed_nodes[1], NodeAddress::new("shop", "127.0.0.1", 2552));
        assert_eq!(
            s.downing.unwrap().strategy,
            Strategy::StaticQuorum {
                quorum_size: 2,
                role: None
            }
        );
        assert_eq!(
            s.heartbeat_interval,
            ClusterSettings::fast_failover().heartbeat_interval
        );
    }

    #[test]
    fn defaults_form_a_cluster_of_one() {
        let a = parse_str("--bind localhost:2551").unwrap().unwrap();
        assert_eq!(a.system, "demo");
        assert_eq!(a.http, None);
        let me = NodeAddress::new("demo", "localhost", 2551);
        let s = a.settings(&me);
        assert_eq!(s.seed_nodes, [me]);
        assert_eq!(s.validate(), Ok(()));
        assert!(parse_str("--help").unwrap().is_none());
    }

    #[test]
    fn mistakes_are_named() {
        assert!(err("").contains("--bind HOST:PORT is required"));
        assert!(err("--bind").contains("--bind needs a value"));
        assert!(err("--bind nonsense").contains("expected HOST:PORT"));
        assert!(err("--bind host:99999").contains("port"));
        assert!(err("--bind :1").contains("host is empty"));
        assert!(err("--bind h:1 --http h:1").contains("--http"));
        assert!(err("--bind h:1 --downing maybe").contains("keep-majority"));
        assert!(err("--bind h:1 --downing static-quorum=0").contains("positive"));
        assert!(err("--bind h:1 --system a/b").contains("--system"));
        assert!(err("--bind h:1 --frobnicate").contains("unknown argument"));
        assert!(err("--bind h:1 --fast=yes").contains("unknown argument"));
        assert!(err("--bind h:0").contains("--seed"));
    }
}
