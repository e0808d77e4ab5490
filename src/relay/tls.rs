//! TLS for the relay (`wss://` and `https://`): a listener that accepts TCP connections and
//! completes their TLS handshakes off the accept loop, so a slow or silent client delays only
//! itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::RelayError;

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most TLS handshakes in progress at once; further connections wait to be accepted. High
/// enough that clients which connect and stay silent (each held for [`HANDSHAKE_TIMEOUT`])
/// cannot easily stall everyone else's accept; each costs a few KiB while it waits.
const MAX_HANDSHAKES: usize = 2_048;

/// The relay's TLS identity: its certificate chain and private key.
#[derive(Clone)]
pub struct TlsIdentity(Arc<rustls::ServerConfig>);

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsIdentity(..)")
    }
}

impl TlsIdentity {
    /// An identity from PEM: `cert_pem` holds the certificate chain (the relay's own
    /// certificate first), `key_pem` its private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, RelayError> {
        let invalid = |what, reason: String| RelayError::Config { what, reason };
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("TLS certificate", format!("not valid PEM: {e}")))?;
        if chain.is_empty() {
            return Err(invalid(
                "TLS certificate",
                "no \"BEGIN CERTIFICATE\" block: pass the certificate chain in PEM".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
            invalid(
                "TLS key",
                format!("no private key found in PEM (PKCS#8, PKCS#1 or SEC1): {e}"),
            )
        })?;
        let config = rustls::ServerConfig::builder_with_provider(crate::net::tls_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("TLS settings", e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                invalid(
                    "TLS certificate and key",
                    format!("they do not go together or are unusable: {e}"),
                )
            })?;
        Ok(Self(Arc::new(config)))
    }
}

/// Accepts TLS connections: TCP accepts and handshakes run on a task of their own, and
/// finished handshakes queue here.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS with `identity` on `listener`.
    pub(crate) fn new(listener: TcpListener, identity: &TlsIdentity) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(MAX_HANDSHAKES);
        let tls = TlsAcceptor::from(identity.0.clone());
        let acceptor = tokio::spawn(accept_loop(listener, tls, tx));
        Ok(Self {
            ready,
            local,
            acceptor,
        })
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

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop ends only when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
