//! `/metrics` in Prometheus text format: counters the server keeps in memory since start.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub sync_requests: AtomicU64,
    pub sync_docs_pushed: AtomicU64,
    pub sync_acks: AtomicU64,
    pub sync_rejections: AtomicU64,
    pub sync_updates: AtomicU64,
    pub sync_micros: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub enrollments: AtomicU64,
    pub auth_failures: AtomicU64,
    pub blob_bytes_in: AtomicU64,
}

impl Metrics {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut put = |name: &str, help: &str, v: String| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
            ));
        };
        put(
            "saferound_sync_requests_total",
            "Sync requests answered.",
            g(&self.sync_requests).to_string(),
        );
        put(
            "saferound_sync_documents_pushed_total",
            "Documents pushed by devices.",
            g(&self.sync_docs_pushed).to_string(),
        );
        put(
            "saferound_sync_acks_total",
            "Documents acknowledged.",
            g(&self.sync_acks).to_string(),
        );
        put(
            "saferound_sync_rejections_total",
            "Documents rejected.",
            g(&self.sync_rejections).to_string(),
        );
        put(
            "saferound_sync_updates_total",
            "Document updates sent to devices.",
            g(&self.sync_updates).to_string(),
        );
        put(
            "saferound_sync_seconds_total",
            "Time spent answering sync requests.",
            format!("{:.6}", g(&self.sync_micros) as f64 / 1e6),
        );
        put(
            "saferound_sync_bytes_in_total",
            "Sync request bytes received.",
            g(&self.bytes_in).to_string(),
        );
        put(
            "saferound_sync_bytes_out_total",
            "Sync answer bytes sent.",
            g(&self.bytes_out).to_string(),
        );
        put(
            "saferound_enrollments_total",
            "Devices enrolled.",
            g(&self.enrollments).to_string(),
        );
        put(
            "saferound_auth_failures_total",
            "Failed logins and unknown tokens.",
            g(&self.auth_failures).to_string(),
        );
        put(
            "saferound_blob_bytes_in_total",
            "Photo bytes received.",
            g(&self.blob_bytes_in).to_string(),
        );
        out
    }
}
