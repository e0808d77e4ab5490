//! What we know about each peer, kept across connections.

use rusqlite::{Row, TransactionBehavior, params};

use super::error::{Context, StoreError};
use super::values::{self, from_sql, to_sql};
use super::{PeerRecord, Store};
use crate::DeviceId;

const COLUMNS: &str = "device, label, their_epoch, their_offset, acked, last_contact_ms, interest";

impl Store {
    /// What we know about `peer`.
    pub fn peer(&self, peer: &DeviceId) -> Result<Option<PeerRecord>, StoreError> {
        const OP: &str = "reading a peer";
        let sql = format!("SELECT {COLUMNS} FROM peers WHERE device = ?1");
        let mut stmt = self.conn.prepare_cached(&sql).ctx(OP)?;
        let mut rows = stmt.query([peer.as_bytes()]).ctx(OP)?;
        rows.next().ctx(OP)?.map(record).transpose()
    }

    /// Every peer we ever synced with, sorted by device id.
    pub fn peers(&self) -> Result<Vec<PeerRecord>, StoreError> {
        const OP: &str = "listing peers";
        let sql = format!("SELECT {COLUMNS} FROM peers ORDER BY device");
        let mut stmt = self.conn.prepare_cached(&sql).ctx(OP)?;
        let mut rows = stmt.query([]).ctx(OP)?;
        let mut peers = Vec::new();
        while let Some(row) = rows.next().ctx(OP)? {
            peers.push(record(row)?);
        }
        Ok(peers)
    }

    /// Saves what we know about a peer (replacing what was saved before).
    pub fn save_peer(&mut self, record: &PeerRecord) -> Result<(), StoreError> {
        const OP: &str = "saving a peer";
        let (epoch, offset) = match &record.their_log {
            Some((epoch, offset)) => (
                Some(epoch.as_bytes().as_slice()),
                Some(to_sql("peer log offset", *offset)?),
            ),
            None => (None, None),
        };
        let acked = to_sql("acknowledged offset", record.acked)?;
        let last_contact = to_sql("last contact time", record.last_contact_ms)?;
        let interest = record.interest.as_ref().map(values::encode_interest);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(OP)?;
        let sql = format!(
            "INSERT INTO peers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (device) DO UPDATE SET label = excluded.label,
                 their_epoch = excluded.their_epoch, their_offset = excluded.their_offset,
                 acked = excluded.acked, last_contact_ms = excluded.last_contact_ms,
                 interest = excluded.interest"
        );
        tx.prepare_cached(&sql)
            .and_then(|mut stmt| {
                stmt.execute(params![
                    record.peer.as_bytes(),
                    record.label,
                    epoch,
                    offset,
                    acked,
                    last_contact,
                    interest,
                ])
            })
            .ctx(OP)?;
        tx.commit().ctx("committing a peer")
    }
}

/// Decodes a row of [`COLUMNS`].
fn record(row: &Row<'_>) -> Result<PeerRecord, StoreError> {
    const OP: &str = "reading a peer";
    let device: Vec<u8> = row.get(0).ctx(OP)?;
    let epoch: Option<Vec<u8>> = row.get(2).ctx(OP)?;
    let offset: Option<i64> = row.get(3).ctx(OP)?;
    // A half-recorded cursor (impossible under the table's CHECK) reads as no cursor: the
    // peers then resync by version vectors, which is always safe.
    let their_log = match (epoch, offset) {
        (Some(epoch), Some(offset)) => Some((
            values::epoch("peer epoch", &epoch)?,
            from_sql("peer log offset", offset)?,
        )),
        _ => None,
    };
    Ok(PeerRecord {
        peer: values::device("peer device id", &device)?,
        label: row.get(1).ctx(OP)?,
        their_log,
        acked: from_sql("acknowledged offset", row.get(4).ctx(OP)?)?,
        last_contact_ms: from_sql("last contact time", row.get(5).ctx(OP)?)?,
        interest: match row.get::<_, Option<Vec<u8>>>(6).ctx(OP)? {
            Some(bytes) => Some(values::decode_interest(&bytes)?),
            None => None,
        },
    })
}
