//! [`RelayClient`]: keeps a replica in sync with a relay over WebSocket, on its own network
//! thread.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use polyarch::net::{ClientConfig, ClientState, SyncClient};

use crate::error::PolyarchError;
use crate::replica::{Receipt, Replica};

/// Where a relay client stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectionState {
    /// Opening a connection.
    Connecting,
    /// Connected; changes still flow to catch one side up.
    CatchingUp,
    /// Connected, and both sides hold everything the other had.
    InSync,
    /// Not connected (waiting to retry, closed, or refused).
    Offline,
}

impl From<ClientState> for ConnectionState {
    fn from(s: ClientState) -> Self {
        match s {
            ClientState::Connecting => Self::Connecting,
            ClientState::CatchingUp => Self::CatchingUp,
            ClientState::InSync => Self::InSync,
            ClientState::Offline => Self::Offline,
        }
    }
}

/// Keeps a replica in sync with a relay (`ws://host:port/sync` or `wss://host/sync`): resumes from its cursor,
/// streams local changes as they are made, reconnects with backoff after network loss. The
/// connection runs on the client's own network thread; the methods here may be called from
/// any thread. Waits block the calling thread (not the UI thread, please).
#[derive(uniffi::Object)]
pub struct RelayClient {
    runtime: tokio::runtime::Runtime,
    client: Arc<Mutex<Option<SyncClient>>>,
    /// Kept alive while the client lives: the replica calls it after local changes.
    _notifier: Arc<dyn Fn() + Send + Sync>,
}

impl RelayClient {
    fn with<T>(&self, f: impl FnOnce(&SyncClient) -> T) -> Result<T, PolyarchError> {
        let client = self.client.lock().map_err(|_| PolyarchError::poisoned())?;
        let client = client
            .as_ref()
            .ok_or_else(|| PolyarchError::failed("CLOSED", "the relay client is closed"))?;
        Ok(f(client))
    }
}

#[uniffi::export]
impl RelayClient {
    /// Starts syncing `replica` with the relay at `url`, presenting `token` (empty for none).
    /// Returns at once; see [`state`](Self::state) and the waits.
    #[uniffi::constructor]
    pub fn connect(
        replica: Arc<Replica>,
        url: String,
        token: String,
    ) -> Result<Arc<Self>, PolyarchError> {
        Self::connect_trusting(replica, url, token, String::new())
    }

    /// Like [`connect`](Self::connect), for a `wss://` relay whose certificate is private or
    /// self-signed: `trusted_certs_pem` holds the PEM certificates to trust (the relay's own,
    /// or its CA's) besides the public web roots.
    #[uniffi::constructor]
    pub fn connect_trusting(
        replica: Arc<Replica>,
        url: String,
        token: String,
        trusted_certs_pem: String,
    ) -> Result<Arc<Self>, PolyarchError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("polyarch-net")
            .enable_all()
            .build()
            .map_err(|e| PolyarchError::failed("NETWORK", format!("cannot start: {e}")))?;
        let mut config = ClientConfig::new(url);
        config.token = token;
        config.trusted_certs_pem = trusted_certs_pem.into_bytes();
        let client = {
            let _inside = runtime.enter();
            SyncClient::start(replica.repo.clone(), config)
        };
        let client = Arc::new(Mutex::new(Some(client)));
        let weak = Arc::downgrade(&client);
        let notifier: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            if let Some(client) = weak.upgrade()
                && let Ok(client) = client.lock()
                && let Some(client) = client.as_ref()
            {
                client.notify();
            }
        });
        replica.notifiers.add(&notifier);
        Ok(Arc::new(Self {
            runtime,
            client,
            _notifier: notifier,
        }))
    }

    /// Where the client stands now.
    pub fn state(&self) -> Result<ConnectionState, PolyarchError> {
        self.with(|c| c.state().into())
    }

    /// Waits up to `timeout_ms` until both sides hold everything the other had. Returns
    /// whether that happened.
    pub fn wait_until_in_sync(&self, timeout_ms: u64) -> Result<bool, PolyarchError> {
        let timeout = Duration::from_millis(timeout_ms);
        let watch = self.with(|c| c.watch_state())?;
        Ok(self.runtime.block_on(async move {
            let mut watch = watch;
            tokio::time::timeout(timeout, watch.wait_for(|s| *s == ClientState::InSync))
                .await
                .is_ok_and(|r| r.is_ok())
        }))
    }

    /// Whether the relay has stored the change ("on the relay"): it acknowledged our log up
    /// to the change's offset. Fails with code `WRITE_REFUSED` when the relay refused the
    /// change's document (this client's token may only read it): it will never store it.
    pub fn stored_by_relay(&self, receipt: Receipt) -> Result<bool, PolyarchError> {
        let offset = receipt.offset.ok_or_else(|| {
            PolyarchError::failed("NOT_COMMITTED", "the change is not on disk yet")
        })?;
        let doc =
            polyarch::DocId::new(receipt.doc).map_err(|e| PolyarchError::invalid(e.to_string()))?;
        let (acked, refused) = self.with(|c| (c.acked(), c.refuses(&doc)))?;
        if refused {
            let e = polyarch::net::ClientError::WriteRefused { doc };
            return Err(PolyarchError::failed("WRITE_REFUSED", e.to_string()));
        }
        Ok(acked >= offset)
    }

    /// Waits up to `timeout_ms` until the relay has stored the change. Returns whether it did.
    pub fn wait_stored_by_relay(
        &self,
        receipt: Receipt,
        timeout_ms: u64,
    ) -> Result<bool, PolyarchError> {
        let timeout = Duration::from_millis(timeout_ms);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.stored_by_relay(receipt.clone())? {
                return Ok(true);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The last connection error, if any (a refused token, an unreachable relay).
    pub fn last_error(&self) -> Result<Option<String>, PolyarchError> {
        self.with(SyncClient::last_error)
    }

    /// Closes the connection and stops the network thread's work; later calls raise `CLOSED`.
    /// (Named `disconnect`, not `close`: Kotlin objects already have `close`, which frees them.)
    pub fn disconnect(&self) -> Result<(), PolyarchError> {
        let client = self
            .client
            .lock()
            .map_err(|_| PolyarchError::poisoned())?
            .take();
        if let Some(client) = client {
            self.runtime.block_on(client.close());
        }
        Ok(())
    }
}
