//! Syncing two replicas in one process, without a transport.

use super::{Session, SyncError, SyncHost};

/// What an in-process exchange cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exchange {
    /// Round trips: each one delivers everything in flight in both directions at once.
    pub round_trips: u32,
    /// Frames delivered.
    pub frames: u64,
    /// Bytes delivered.
    pub bytes: u64,
}

/// Connects two replicas in memory and delivers frames both ways until neither side has
/// anything more to send. Starts the sessions if they were not started. Frames sent at the
/// same time in both directions count as one round trip when they are answered together
/// (half a round trip each way).
pub fn run_until_quiet(
    a: &mut Session,
    host_a: &mut impl SyncHost,
    b: &mut Session,
    host_b: &mut impl SyncHost,
) -> Result<Exchange, SyncError> {
    let mut to_b = if a.is_started() {
        a.poll(host_a)?
    } else {
        a.start(host_a)?
    };
    let mut to_a = if b.is_started() {
        b.poll(host_b)?
    } else {
        b.start(host_b)?
    };
    let mut exchange = Exchange::default();
    let mut legs = 0u32;
    while !to_a.is_empty() || !to_b.is_empty() {
        legs += 1;
        let mut next_to_a = Vec::new();
        for frame in to_b.drain(..) {
            exchange.frames += 1;
            exchange.bytes += frame.len() as u64;
            next_to_a.extend(b.receive(host_b, &frame)?);
        }
        let mut next_to_b = Vec::new();
        for frame in to_a.drain(..) {
            exchange.frames += 1;
            exchange.bytes += frame.len() as u64;
            next_to_b.extend(a.receive(host_a, &frame)?);
        }
        to_a = next_to_a;
        to_b = next_to_b;
    }
    exchange.round_trips = legs.div_ceil(2);
    Ok(exchange)
}
