//! `SyncSession`: one connection's sync state, frames in and frames out. The transport (a
//! WebSocket, `postMessage`, a test loop) belongs to the caller.

use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use polyarch::sync::{Interest, RefusalCode, Session, SessionConfig, SessionEvent, SessionState};
use wasm_bindgen::prelude::*;

use crate::repo::{Repo, Shared};
use crate::{convert, error};

/// The sync protocol for one connection of a repo. Send every frame that `start`, `receive`
/// and `poll` return, in order; call `poll` after local changes.
///
/// ```js
/// const a = new SyncSession(repoA), b = new SyncSession(repoB);
/// let toB = a.start(), toA = b.start();
/// while (toA.length || toB.length) {
///   const nextA = toB.flatMap(f => b.receive(f));
///   toB = toA.flatMap(f => a.receive(f));
///   toA = nextA;
/// }
/// ```
#[wasm_bindgen]
pub struct SyncSession {
    shared: Rc<Shared>,
    session: Session,
}

#[wasm_bindgen]
impl SyncSession {
    /// A session for `repo`; `options.token` is an access token to present; `options.docs`
    /// (document ids) receives only those documents (every document without it);
    /// `options.peer` is the peer's device id when known (a previous session's `peer`): the
    /// session then resumes where the last one with that peer ended, streaming what the peer
    /// lacks right behind its hello, so that a reconnection takes one round trip.
    #[wasm_bindgen(constructor)]
    pub fn new(repo: &Repo, options: JsValue) -> Result<SyncSession, JsValue> {
        let mut config = SessionConfig::default();
        if let Some(token) = convert::prop(&options, "token").and_then(|t| t.as_string()) {
            config.token = token;
        }
        if let Some(peer) = convert::prop(&options, "peer") {
            let hex = peer.as_string().unwrap_or_default();
            let device = polyarch::DeviceId::from_hex(&hex).map_err(|_| {
                error::invalid("`peer` to be a device id (32 hex digits, as `session.peer` gives)")
            })?;
            config.peer_hint = Some(device);
        }
        if let Some(docs) = convert::prop(&options, "docs") {
            config.interest = Interest::Docs(convert::doc_ids(docs, "docs")?);
        }
        Ok(SyncSession {
            shared: repo.shared(),
            session: Session::new(config),
        })
    }

    /// The opening frames (the hello).
    pub fn start(&mut self) -> Result<Array, JsValue> {
        let session = &mut self.session;
        self.shared
            .with(|r| session.start(r).map(convert::frames).map_err(error::sync))
    }

    /// Handles one received frame; returns the frames to send back. A bad frame throws
    /// (`SYNC_WIRE`, ...) and leaves the repo unchanged.
    pub fn receive(&mut self, frame: &Uint8Array) -> Result<Array, JsValue> {
        let bytes = frame.to_vec();
        let session = &mut self.session;
        self.shared.with(|r| {
            session
                .receive(r, &bytes)
                .map(convert::frames)
                .map_err(error::sync)
        })
    }

    /// Frames carrying local changes made since the last call.
    pub fn poll(&mut self) -> Result<Array, JsValue> {
        let session = &mut self.session;
        self.shared
            .with(|r| session.poll(r).map(convert::frames).map_err(error::sync))
    }

    /// `"handshaking"`, `"catching-up"` or `"in-sync"`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> Result<String, JsValue> {
        let session = &self.session;
        self.shared.with(|r| {
            Ok(match session.state(&*r) {
                SessionState::Handshaking => "handshaking",
                SessionState::CatchingUp => "catching-up",
                SessionState::InSync => "in-sync",
            }
            .to_owned())
        })
    }

    /// What the other side refused since the last call, as `Error`s (`name`
    /// `"PolyarchError"`) with a `code`: `REFUSED_UNAUTHORIZED` (a missing, malformed or
    /// foreign token) and `REFUSED_EXPIRED` (the other side then closes the connection),
    /// `REFUSED_FORBIDDEN` (a document this token may not write; `doc` names it, and the
    /// changes to it stay in this repo only), `REFUSED_BAD_REQUEST`, `REFUSED_UNAVAILABLE`.
    #[wasm_bindgen(js_name = takeRefusals)]
    pub fn take_refusals(&mut self) -> Array {
        self.session
            .take_events()
            .into_iter()
            .filter_map(|event| match event {
                SessionEvent::Refused { code, doc, message } => {
                    let err = error::js_error(refusal_code(code), &message);
                    if let Some(doc) = doc {
                        let _ = js_sys::Reflect::set(&err, &"doc".into(), &doc.as_str().into());
                    }
                    Some(err)
                }
                _ => None,
            })
            .collect()
    }

    /// The peer's device id (hex), once it said hello.
    #[wasm_bindgen(getter)]
    pub fn peer(&self) -> Option<String> {
        self.session.peer().map(|d| d.to_string())
    }

    /// Counters: `{ framesIn, framesOut, bytesIn, bytesOut, changesIn, changesOut }`.
    #[wasm_bindgen(getter)]
    pub fn stats(&self) -> JsValue {
        let s = self.session.stats();
        let obj = js_sys::Object::new();
        for (k, v) in [
            ("framesIn", s.frames_in),
            ("framesOut", s.frames_out),
            ("bytesIn", s.bytes_in),
            ("bytesOut", s.bytes_out),
            ("changesIn", s.changes_in),
            ("changesOut", s.changes_out),
        ] {
            let _ = js_sys::Reflect::set(&obj, &k.into(), &JsValue::from_f64(v as f64));
        }
        obj.into()
    }
}

/// The stable code of a refusal, as `takeRefusals` sets it.
fn refusal_code(code: RefusalCode) -> &'static str {
    match code {
        RefusalCode::Unauthorized => "REFUSED_UNAUTHORIZED",
        RefusalCode::Expired => "REFUSED_EXPIRED",
        RefusalCode::Forbidden => "REFUSED_FORBIDDEN",
        RefusalCode::BadRequest => "REFUSED_BAD_REQUEST",
        RefusalCode::Unavailable => "REFUSED_UNAVAILABLE",
    }
}
