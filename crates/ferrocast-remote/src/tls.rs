//! TLS for associations (rustls): certificates and keys from PEM files,
//! optionally mutual.
//!
//! Every lane connection is a TLS session. The connecting node checks the
//! accepting node's certificate against `trusted_ca` and the expected name
//! (the peer's host, or `server_name`); with `mutual`, the accepting node
//! also demands and checks a client certificate. The handshake of the
//! remoting protocol (system name, uid, optional secret) runs inside.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Where a node's TLS material lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// This node's certificate chain (PEM), leaf first.
    pub certificate_chain: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
    /// The certificate authorities (PEM) whose certificates peers must
    /// present.
    pub trusted_ca: PathBuf,
    /// Require and verify a client certificate on inbound connections.
    pub mutual: bool,
    /// The name expected in peers' certificates; by default the host of
    /// the address being connected to.
    pub server_name: Option<String>,
}

/// TLS material that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("TLS {what} ({path}): {reason}")]
pub struct TlsError {
    /// Which part.
    pub what: &'static str,
    /// The file (or "-" for a configuration error).
    pub path: String,
    /// Why.
    pub reason: String,
}

fn err(what: &'static str, path: &Path, reason: impl fmt::Display) -> TlsError {
    TlsError {
        what,
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The loaded client and server sides.
pub(crate) struct Tls {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
    server_name: Option<ServerName<'static>>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

fn certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(what, path, e))?;
    if certs.is_empty() {
        return Err(err(what, path, "no certificate in the file"));
    }
    Ok(certs)
}

impl Tls {
    pub(crate) fn load(cfg: &TlsConfig) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = certs("certificate chain", &cfg.certificate_chain)?;
        let key = PrivateKeyDer::from_pem_file(&cfg.private_key)
            .map_err(|e| err("private key", &cfg.private_key, e))?;
        let mut roots = RootCertStore::empty();
        for ca in certs("trusted CA", &cfg.trusted_ca)? {
            roots
                .add(ca)
                .map_err(|e| err("trusted CA", &cfg.trusted_ca, e))?;
        }
        let roots = Arc::new(roots);

        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err("protocol versions", Path::new("-"), e))?;
        let server = if cfg.mutual {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .build()
                    .map_err(|e| err("client verifier", &cfg.trusted_ca, e))?;
            server.with_client_cert_verifier(verifier)
        } else {
            server.with_no_client_auth()
        };
        let server = server
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| err("certificate and key", &cfg.certificate_chain, e))?;

        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err("protocol versions", Path::new("-"), e))?
            .with_root_certificates(roots);
        let client = if cfg.mutual {
            client
                .with_client_auth_cert(chain, key)
                .map_err(|e| err("certificate and key", &cfg.certificate_chain, e))?
        } else {
            client.with_no_client_auth()
        };
        let server_name = match &cfg.server_name {
            Some(n) => Some(
                ServerName::try_from(n.clone()).map_err(|e| err("server name", Path::new(n), e))?,
            ),
            None => None,
        };
        Ok(Tls {
            connector: TlsConnector::from(Arc::new(client)),
            acceptor: TlsAcceptor::from(Arc::new(server)),
            server_name,
        })
    }

    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let name = match &self.server_name {
            Some(n) => n.clone(),
            None => ServerName::try_from(host.to_owned())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
        };
        self.connector.connect(name, tcp).await
    }

    pub(crate) async fn accept(
        &self,
        tcp: TcpStream,
    ) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
        self.acceptor.accept(tcp).await
    }
}
