//! TLS for servers (`wss://`, and the relay's `https://`): an identity loaded from PEM, and a
//! listener that accepts TCP connections and completes their TLS handshakes off the accept
//! loop, so a slow or silent client delays only itself. The relay and the peer server
//! ([`serve`](super::serve)) both use it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most TLS handshakes in progress at once; further connections wait to be accepted. High
/// enough that clients which connect and stay silent (each held for [`HANDSHAKE_TIMEOUT`])
/// cannot easily stall everyone else's accept; each costs a few KiB while it waits.
const MAX_HANDSHAKES: usize = 2_048;

/// Why a [`TlsIdentity`] could not be made.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsIdentityError {
    /// A PEM file could not be read.
    #[error(
        "cannot read the TLS {what} file {}: {source}; check the path, and that this user may read it",
        path.display()
    )]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The certificate chain is not PEM, or holds no certificate.
    #[error("invalid TLS certificate: {reason}")]
    Certificate {
        /// What is wrong with it, and what to give instead.
        reason: String,
    },
    /// The key PEM holds no private key.
    #[error(
        "invalid TLS key: no private key found in PEM ({reason}): pass the certificate's private key in PEM (PKCS#8, PKCS#1 or SEC1)"
    )]
    Key {
        /// What the PEM parser said.
        reason: String,
    },
    /// The certificate and the key do not make a usable pair (most often: the key is not the
    /// certificate's).
    #[error(
        "invalid TLS certificate and key: they do not go together or are unusable: {reason}; give the private key the certificate was made for"
    )]
    Unusable {
        /// What rustls said.
        reason: String,
    },
    /// TLS itself could not be set up (the protocol versions of the crypto provider).
    #[error("cannot set up TLS: {reason}")]
    Settings {
        /// What rustls said.
        reason: String,
    },
}

/// A server's TLS identity: its certificate chain and private key.
#[derive(Clone)]
pub struct TlsIdentity(Arc<rustls::ServerConfig>);

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity(..)")
    }
}

impl TlsIdentity {
    /// An identity from PEM: `cert_pem` holds the certificate chain (the server's own
    /// certificate first), `key_pem` its private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsIdentityError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsIdentityError::Certificate {
                reason: format!("not valid PEM ({e}): pass the certificate chain in PEM"),
            })?;
        if chain.is_empty() {
            return Err(TlsIdentityError::Certificate {
                reason: "no \"BEGIN CERTIFICATE\" block: pass the certificate chain in PEM".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsIdentityError::Key {
            reason: e.to_string(),
        })?;
        let config = rustls::ServerConfig::builder_with_provider(super::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsIdentityError::Settings {
                reason: e.to_string(),
            })?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsIdentityError::Unusable {
                reason: e.to_string(),
            })?;
        Ok(Self(Arc::new(config)))
    }

    /// An identity from PEM files: the certificate chain at `cert`, its private key at `key`
    /// (see [`from_pem`](Self::from_pem)).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsIdentityError> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|source| TlsIdentityError::Read {
                what,
                path: path.to_path_buf(),
                source,
            })
        };
        Self::from_pem(&read("certificate", cert)?, &read("key", key)?)
    }
}

/// Accepts TLS connections: TCP accepts and handshakes run on a task of their own, and
/// finished handshakes queue here.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    /// The address listened on, for the relay's HTTP server (which asks for it).
    #[cfg(feature = "relay")]
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS with `identity` on `listener`.
    pub(crate) fn new(listener: TcpListener, identity: &TlsIdentity) -> std::io::Result<Self> {
        #[cfg(feature = "relay")]
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(MAX_HANDSHAKES);
        let tls = TlsAcceptor::from(identity.0.clone());
        let acceptor = tokio::spawn(accept_loop(listener, tls, tx));
        Ok(Self {
            ready,
            #[cfg(feature = "relay")]
            local,
            acceptor,
        })
    }

    /// The next connection whose handshake succeeded. Failed handshakes are logged and
    /// skipped.
    pub(crate) async fn accept(&mut self) -> (TlsStream<TcpStream>, SocketAddr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop ends only when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    /// The address listened on.
    #[cfg(feature = "relay")]
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (tcp, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, mostly: wait instead of spinning.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (tls, ready) = (tls.clone(), ready.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = ready.send((stream, addr)).await;
                }
                Ok(Err(e)) => tracing::info!(%addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::info!(%addr, "TLS handshake timed out"),
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for 127.0.0.1, and its key, in PEM.
    fn self_signed() -> (String, String) {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("a certificate");
        (cert.pem(), signing_key.serialize_pem())
    }

    /// The message of an identity that must be refused.
    fn refused(cert: &str, key: &str) -> String {
        match TlsIdentity::from_pem(cert.as_bytes(), key.as_bytes()) {
            Ok(_) => panic!("an identity from a bad certificate or key"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_identities_are_refused_with_a_reason() {
        let (cert, key) = self_signed();
        let (_, other_key) = self_signed();
        assert!(refused("", &key).contains("BEGIN CERTIFICATE"));
        assert!(refused(&key, &key).contains("BEGIN CERTIFICATE"));
        assert!(refused(&cert, "").contains("no private key"));
        assert!(refused(&cert, &cert).contains("no private key"));
        let e = refused(&cert, &other_key);
        assert!(e.contains("do not go together"), "{e}");
        assert!(
            e.contains("the private key the certificate was made for"),
            "{e}"
        );
        assert!(TlsIdentity::from_pem(cert.as_bytes(), key.as_bytes()).is_ok());
    }

    #[test]
    fn unreadable_files_are_named_with_what_to_check() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = match TlsIdentity::from_pem_files(&missing, &missing) {
            Ok(_) => panic!("an identity from a missing file"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("TLS certificate file"), "{e}");
        assert!(e.contains("missing.pem"), "{e}");
        assert!(e.contains("check the path"), "{e}");
    }
}
