//! [`SyncSession`]: the sync protocol for a transport of the app's own.

use std::sync::{Arc, Mutex};

use polyarch::sync::{Session, SessionConfig};

use crate::error::PolyarchError;
use crate::replica::Replica;

/// The sync protocol for one connection of a replica, with no I/O: send every frame that
/// `start`, `receive` and `poll` return to the other side, in order, over any transport (a
/// socket, Bluetooth, a file); hand every frame that arrives to `receive`. Call `poll` after
/// local changes while connected.
#[derive(uniffi::Object)]
pub struct SyncSession {
    replica: Arc<Replica>,
    session: Mutex<Session>,
}

impl SyncSession {
    fn step(
        &self,
        f: impl FnOnce(
            &mut Session,
            &mut polyarch::Repo,
        ) -> Result<Vec<Vec<u8>>, polyarch::sync::SyncError>,
    ) -> Result<Vec<Vec<u8>>, PolyarchError> {
        let mut session = self.session.lock().map_err(|_| PolyarchError::poisoned())?;
        let mut repo = self.replica.lock()?;
        Ok(f(&mut session, &mut repo)?)
    }
}

#[uniffi::export]
impl SyncSession {
    /// A session for `replica`; `token` is an access token to present to a relay.
    #[uniffi::constructor]
    pub fn new(replica: Arc<Replica>, token: Option<String>) -> Arc<Self> {
        let mut config = SessionConfig::default();
        if let Some(token) = token {
            config.token = token;
        }
        Arc::new(Self {
            replica,
            session: Mutex::new(Session::new(config)),
        })
    }

    /// The opening frames (the hello), to send first.
    pub fn start(&self) -> Result<Vec<Vec<u8>>, PolyarchError> {
        self.step(|s, r| s.start(r))
    }

    /// Handles one frame from the other side; returns the frames to send back. A bad frame
    /// raises (`SYNC_...`) and leaves the replica unchanged.
    pub fn receive(&self, frame: Vec<u8>) -> Result<Vec<Vec<u8>>, PolyarchError> {
        self.step(|s, r| s.receive(r, &frame))
    }

    /// Frames carrying local changes made since the last call.
    pub fn poll(&self) -> Result<Vec<Vec<u8>>, PolyarchError> {
        self.step(|s, r| s.poll(r))
    }

    /// The other side's device id (hex), once its hello arrived.
    pub fn peer(&self) -> Option<String> {
        let session = self.session.lock().ok()?;
        session.peer().map(|p| p.to_string())
    }
}
