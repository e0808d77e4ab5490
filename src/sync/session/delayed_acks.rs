//! Acknowledgements that wait (see [`SessionConfig::ack_delay`](crate::sync::SessionConfig::ack_delay)): an `Ack` of the peer's log,
//! and a stretch of ours holding nothing for the peer, travel with the next frame the session
//! sends anyway, or go on their own once due.

use super::{Outbound, Session};
use crate::sync::host::SyncHost;
use crate::sync::{Message, Stretch};

impl Session {
    /// When (ms, as [`SyncHost::now_ms`] counts) [`poll`](Self::poll) has an acknowledgement
    /// to send that waited for [`SessionConfig::ack_delay`](crate::sync::SessionConfig::ack_delay); `None` when nothing waits.
    pub fn due_ms(&self) -> Option<u64> {
        let ack = self.ack_owed.map(|(_, due)| due);
        let empty = self.empty_owed.map(|(_, due)| due);
        match (ack, empty) {
            (Some(a), Some(e)) => Some(a.min(e)),
            (a, e) => a.or(e),
        }
    }

    /// Sends what waits under [`SessionConfig::ack_delay`](crate::sync::SessionConfig::ack_delay) if it is due, or if other frames go
    /// out now anyway (they are written together).
    pub(super) fn settle(&mut self, host: &impl SyncHost, out: &mut Vec<Vec<u8>>) {
        if self.ack_owed.is_none() && self.empty_owed.is_none() {
            return;
        }
        let now = host.now_ms();
        let going = !out.is_empty() || self.due_ms().is_some_and(|due| now >= due);
        if !going {
            return;
        }
        if let Some((to, _)) = self.empty_owed.take()
            && let Outbound::Streaming { through } = self.out
            && to > through
        {
            self.emit(
                out,
                &Message::Changes {
                    changes: Vec::new(),
                    stretch: Some(Stretch { from: through, to }),
                },
            );
            self.out = Outbound::Streaming { through: to };
        }
        if let Some((upto, _)) = self.ack_owed {
            self.emit(out, &Message::Ack { upto });
        }
    }

    /// Acknowledges the peer's log through `upto`: at once, or within
    /// [`SessionConfig::ack_delay`](crate::sync::SessionConfig::ack_delay).
    pub(super) fn owe_ack(&mut self, host: &impl SyncHost, upto: u64, out: &mut Vec<Vec<u8>>) {
        if self.config.ack_delay.is_zero() {
            self.emit(out, &Message::Ack { upto });
            return;
        }
        let (upto, due) = match self.ack_owed {
            Some((owed, due)) => (owed.max(upto), due),
            None => (upto, host.now_ms().saturating_add(self.delay_ms())),
        };
        self.ack_owed = Some((upto, due));
    }

    pub(super) fn delay_ms(&self) -> u64 {
        u64::try_from(self.config.ack_delay.as_millis()).unwrap_or(u64::MAX)
    }
}
