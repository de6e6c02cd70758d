//! TLS between nodes: mutual authentication from certificate files.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use ferrocast_remote::{RemoteConfig, ResolveError, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A throwaway directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "ferrocast-tls-{tag}-{}-{:x}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A certificate authority that issues node certificates for 127.0.0.1.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    ca_file: PathBuf,
}

impl Ca {
    fn new(dir: &Path, name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca_file, issuer.pem()).unwrap();
        Ca { issuer, ca_file }
    }

    /// A node's TLS config: its certificate from this CA, trusting `trust`.
    fn node(&self, dir: &Path, name: &str, trust: &Path, mutual: bool) -> TlsConfig {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        let certificate_chain = dir.join(format!("{name}.pem"));
        let private_key = dir.join(format!("{name}.key"));
        std::fs::write(&certificate_chain, cert.pem()).unwrap();
        std::fs::write(&private_key, key.serialize_pem()).unwrap();
        TlsConfig {
            certificate_chain,
            private_key,
            trusted_ca: trust.to_owned(),
            mutual,
            server_name: None,
        }
    }
}

fn with_tls(tls: TlsConfig) -> RemoteConfig {
    RemoteConfig {
        tls: Some(tls),
        ..fast_config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_carries_tell_ask_and_watch() {
    let dir = TempDir::new("mutual");
    let ca = Ca::new(&dir.0, "good");
    let a = Node::start("tls", with_tls(ca.node(&dir.0, "a", &ca.ca_file, true))).await;
    let b = Node::start("tls", with_tls(ca.node(&dir.0, "b", &ca.ca_file, true))).await;
    let (_counter, path) = exposed_counter(&a, "counter");
    let remote = b.remoting.resolve::<CounterMsg>(&path, WAIT).await.unwrap();
    for i in 0..100 {
        remote.tell(CounterMsg::Add(i));
    }
    assert_eq!(remote.ask(CounterMsg::Get, WAIT).await.unwrap(), 4950);
    let mut probe = ferrocast_testkit::TestProbe::<u64>::new(&b.system);
    probe.watch(&remote);
    remote.tell(CounterMsg::Stop);
    probe.expect_terminated(&remote, WAIT).await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused_by_tls() {
    let dir = TempDir::new("strangers");
    let good = Ca::new(&dir.0, "good");
    let evil = Ca::new(&dir.0, "evil");
    let a = Node::start("tls", with_tls(good.node(&dir.0, "a", &good.ca_file, true))).await;
    let (_counter, path) = exposed_counter(&a, "counter");
    let short = Duration::from_millis(800);

    // A certificate from another CA (which trusts ours): the client
    // certificate is refused.
    let forged = Node::start("tls", with_tls(evil.node(&dir.0, "f", &good.ca_file, true))).await;
    assert!(matches!(
        forged.remoting.resolve::<CounterMsg>(&path, short).await,
        Err(ResolveError::Timeout(..))
    ));
    // Plain TCP to a TLS node.
    let plain = Node::start("tls", fast_config()).await;
    assert!(matches!(
        plain.remoting.resolve::<CounterMsg>(&path, short).await,
        Err(ResolveError::Timeout(..))
    ));
    assert!(a.remoting.metrics().handshakes_rejected >= 2);
    for n in [a, forged, plain] {
        n.stop().await;
    }
}

#[tokio::test]
async fn unusable_tls_files_are_a_typed_start_error() {
    let dir = TempDir::new("bad-files");
    let ca = Ca::new(&dir.0, "good");
    let mut tls = ca.node(&dir.0, "a", &ca.ca_file, true);
    tls.private_key = dir.0.join("missing.key");
    let system =
        ferrocast_actor::ActorSystem::new("tls", ferrocast_actor::ActorSystemConfig::default())
            .unwrap();
    let err = ferrocast_remote::Remoting::start(&system, registry(), with_tls(tls))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");
    std::fs::write(dir.0.join("empty.pem"), "").unwrap();
    let mut tls = ca.node(&dir.0, "b", &ca.ca_file, false);
    tls.trusted_ca = dir.0.join("empty.pem");
    let err = ferrocast_remote::Remoting::start(&system, registry(), with_tls(tls))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no certificate"), "{err}");
    system.terminate().await;
}
