//! `PolyarchSession`: the sync protocol for one connection, with no I/O. Frames that come out
//! are sent to the other side by the caller, in order, over any transport; frames that arrive
//! are handed in.

use std::ffi::c_char;

use polyarch::sync::{Session, SessionConfig};

use crate::memory::{borrow_bytes, borrow_str, put};
use crate::replica::{PolyarchReplica, replica};
use crate::status::{Failure, PolyarchStatus, guard};

/// One connection's sync state: made with `polyarch_session_new`, freed with
/// `polyarch_session_free`. Used with one replica at a time, from one thread at a time.
pub struct PolyarchSession {
    session: Session,
}

/// Frames to send to the other side, in order: returned by the session calls, freed with
/// `polyarch_frames_free`.
pub struct PolyarchFrames {
    frames: Vec<Vec<u8>>,
}

/// A new session; `token` (NULL for none) is the access token to present to a relay. Returns
/// NULL only if `token` is not UTF-8. Free with `polyarch_session_free`.
///
/// # Safety
/// `token` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_session_new(token: *const c_char) -> *mut PolyarchSession {
    let mut config = SessionConfig::default();
    if !token.is_null() {
        // SAFETY: not NULL; the caller promises a NUL-terminated string.
        match unsafe { borrow_str(token, "the token") } {
            Ok(t) => config.token = t.to_owned(),
            Err(_) => return std::ptr::null_mut(),
        }
    }
    Box::into_raw(Box::new(PolyarchSession {
        session: Session::new(config),
    }))
}

/// Frees a session. NULL is allowed.
///
/// # Safety
/// `s` is NULL or a session from this library, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_session_free(s: *mut PolyarchSession) {
    if !s.is_null() {
        // SAFETY: made by `Box::into_raw` in `polyarch_session_new`, freed once.
        drop(unsafe { Box::from_raw(s) });
    }
}

/// Runs one step of the session against the replica and hands the frames out.
///
/// # Safety
/// `s` a live session, `r` a live replica, `out` valid for a write.
unsafe fn step(
    s: *mut PolyarchSession,
    r: *const PolyarchReplica,
    out: *mut *mut PolyarchFrames,
    f: impl FnOnce(&mut Session, &mut polyarch::Repo) -> Result<Vec<Vec<u8>>, Failure>,
) -> PolyarchStatus {
    guard(|| {
        // SAFETY: the caller promises a live session (used by one thread) and a live replica.
        let (s, r) = unsafe {
            (
                s.as_mut()
                    .ok_or_else(|| Failure::invalid("the session is NULL"))?,
                replica(r)?,
            )
        };
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        let frames = f(&mut s.session, &mut *r.lock()?)?;
        let boxed = Box::into_raw(Box::new(PolyarchFrames { frames }));
        // SAFETY: checked non-NULL; the caller promises it is valid for a write.
        unsafe { put(out, boxed, "out") }
    })
}

/// Starts the session: `*out` receives the opening frames (the hello), to send first.
///
/// # Safety
/// `s` is a live session; `r` a live replica; `out` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_session_start(
    s: *mut PolyarchSession,
    r: *const PolyarchReplica,
    out: *mut *mut PolyarchFrames,
) -> PolyarchStatus {
    // SAFETY: forwarded from the caller's contract.
    unsafe { step(s, r, out, |s, repo| Ok(s.start(repo)?)) }
}

/// Hands in one frame received from the other side; `*out` receives the frames to send back.
/// A bad frame fails (code `SYNC_...`) and leaves the replica unchanged.
///
/// # Safety
/// `s` is a live session; `r` a live replica; `frame` points to `len` readable bytes; `out`
/// valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_session_receive(
    s: *mut PolyarchSession,
    r: *const PolyarchReplica,
    frame: *const u8,
    len: usize,
    out: *mut *mut PolyarchFrames,
) -> PolyarchStatus {
    // SAFETY: the caller promises `len` readable bytes that outlive the call.
    let frame = unsafe { borrow_bytes(frame, len, "the frame") };
    // SAFETY: forwarded from the caller's contract.
    unsafe { step(s, r, out, |s, repo| Ok(s.receive(repo, frame?)?)) }
}

/// Frames carrying local changes made since the last call: call after editing while
/// connected. `*out` receives them (possibly none).
///
/// # Safety
/// `s` is a live session; `r` a live replica; `out` valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_session_poll(
    s: *mut PolyarchSession,
    r: *const PolyarchReplica,
    out: *mut *mut PolyarchFrames,
) -> PolyarchStatus {
    // SAFETY: forwarded from the caller's contract.
    unsafe { step(s, r, out, |s, repo| Ok(s.poll(repo)?)) }
}

/// How many frames there are (0 for NULL).
///
/// # Safety
/// `f` is NULL or live frames from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_frames_count(f: *const PolyarchFrames) -> usize {
    // SAFETY: the caller promises NULL or live frames.
    unsafe { f.as_ref() }.map_or(0, |f| f.frames.len())
}

/// Frame `index`: its bytes (lent: valid until `polyarch_frames_free`) and their length.
/// Returns NULL and sets `*len` to 0 when `index` is out of range.
///
/// # Safety
/// `f` is NULL or live frames from this library; `len` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_frames_get(
    f: *const PolyarchFrames,
    index: usize,
    len: *mut usize,
) -> *const u8 {
    // SAFETY: the caller promises NULL or live frames.
    let frame = unsafe { f.as_ref() }.and_then(|f| f.frames.get(index));
    let (ptr, n) = frame.map_or((std::ptr::null(), 0), |b| (b.as_ptr(), b.len()));
    if !len.is_null() {
        // SAFETY: not NULL; the caller promises it is valid for a write.
        unsafe { len.write(n) };
    }
    ptr
}

/// Frees frames (and the bytes they lent). NULL is allowed.
///
/// # Safety
/// `f` is NULL or frames from this library, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn polyarch_frames_free(f: *mut PolyarchFrames) {
    if !f.is_null() {
        // SAFETY: made by `Box::into_raw` in `step`, freed once.
        drop(unsafe { Box::from_raw(f) });
    }
}
