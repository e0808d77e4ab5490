//! The relay's metrics, served at `/metrics` in the Prometheus text format.

use std::sync::Mutex;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::DeviceId;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum Reason {
    /// The client went away, or the relay shut down.
    Closed,
    /// A protocol or validation error.
    Error,
    /// Its outbound queue overflowed: it does not read.
    TooSlow,
    /// No frame within the idle timeout.
    Idle,
    /// Its token was refused.
    Unauthorized,
    /// A frame could not be decoded or broke a limit.
    BadFrame,
}

/// Labels of a disconnect counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Why.
    pub reason: Reason,
}

/// Labels of a per-device gauge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DeviceLabel {
    /// The device (hex).
    pub device: String,
    /// The connection number.
    pub conn: u64,
}

impl DeviceLabel {
    pub(crate) fn new(device: &DeviceId, conn: u64) -> Self {
        Self {
            device: device.to_string(),
            conn,
        }
    }
}

/// Counters, gauges and histograms of one relay.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Open sessions.
    pub connections: Gauge,
    /// Documents stored.
    pub documents: Gauge,
    /// The log head.
    pub log_head: Gauge,
    /// Changes stored.
    pub changes_in: Counter,
    /// Frames sent.
    pub frames_out: Counter,
    /// Frames received.
    pub frames_in: Counter,
    /// Bytes received in frames.
    pub bytes_in: Counter,
    /// Bytes sent in frames.
    pub bytes_out: Counter,
    /// Writes refused for lack of rights.
    pub refused_writes: Counter,
    /// Connections ended, by reason.
    pub disconnects: Family<ReasonLabel, Counter>,
    /// Seconds per group commit.
    pub commit_seconds: Histogram,
    /// Per connected device: log offsets streamed to it but not yet acknowledged.
    pub device_lag: Family<DeviceLabel, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, registered.
    pub fn new() -> Self {
        let m = Self {
            registry: Mutex::new(Registry::with_prefix("polyarch_relay")),
            connections: Gauge::default(),
            documents: Gauge::default(),
            log_head: Gauge::default(),
            changes_in: Counter::default(),
            frames_out: Counter::default(),
            frames_in: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            refused_writes: Counter::default(),
            disconnects: Family::default(),
            commit_seconds: Histogram::new([
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
            ]),
            device_lag: Family::default(),
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register("connections", "Open sync sessions", m.connections.clone());
            r.register("documents", "Documents stored", m.documents.clone());
            r.register("log_head", "Highest log offset", m.log_head.clone());
            r.register("changes_in", "Changes stored", m.changes_in.clone());
            r.register("frames_in", "Protocol frames received", m.frames_in.clone());
            r.register("frames_out", "Protocol frames sent", m.frames_out.clone());
            r.register(
                "bytes_in",
                "Bytes of protocol frames received",
                m.bytes_in.clone(),
            );
            r.register(
                "bytes_out",
                "Bytes of protocol frames sent",
                m.bytes_out.clone(),
            );
            r.register(
                "refused_writes",
                "Changes refused because the token is read-only or for other documents",
                m.refused_writes.clone(),
            );
            r.register(
                "disconnects",
                "Connections ended, by reason",
                m.disconnects.clone(),
            );
            r.register(
                "store_commit_seconds",
                "Latency of one group commit to the store",
                m.commit_seconds.clone(),
            );
            r.register(
                "device_lag_offsets",
                "Per connected device: log offsets sent to it and not yet acknowledged",
                m.device_lag.clone(),
            );
        }
        m
    }

    /// Counts a connection that ended for `reason`.
    pub fn disconnected(&self, reason: Reason) {
        self.disconnects
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        }
        out
    }
}
