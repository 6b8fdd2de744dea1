//! The counters the server keeps in memory since start, and their Prometheus text format
//! (served at `/metrics` by `web::admin::metrics`).

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
    /// Sync requests by how long the server took to answer them (`SYNC_BUCKETS`, and one
    /// more for longer): a p99 can be read from `/metrics` without the client's own time.
    pub sync_duration: [AtomicU64; SYNC_BUCKETS.len() + 1],
}

/// Upper bounds, in seconds, of the sync-duration histogram's buckets.
pub const SYNC_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl Metrics {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one sync answered in `took`.
    pub fn sync_took(&self, took: std::time::Duration) {
        let s = took.as_secs_f64();
        let i = SYNC_BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(SYNC_BUCKETS.len());
        Self::add(&self.sync_duration[i], 1);
        Self::add(&self.sync_micros, took.as_micros() as u64);
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
        // Prometheus histograms count cumulatively: each bucket holds every faster one.
        out.push_str(
            "# HELP saferound_sync_duration_seconds Time the server took to answer a sync request.\n\
             # TYPE saferound_sync_duration_seconds histogram\n",
        );
        let mut cumulative = 0;
        for (i, c) in self.sync_duration.iter().enumerate() {
            cumulative += g(c);
            let le = SYNC_BUCKETS
                .get(i)
                .map_or("+Inf".to_string(), |b| b.to_string());
            out.push_str(&format!(
                "saferound_sync_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}\n"
            ));
        }
        out.push_str(&format!(
            "saferound_sync_duration_seconds_sum {:.6}\nsaferound_sync_duration_seconds_count {cumulative}\n",
            g(&self.sync_micros) as f64 / 1e6
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_sync_histogram_is_cumulative_and_counts_every_request() {
        let m = Metrics::default();
        for ms in [1, 4, 30, 30, 700, 60_000] {
            m.sync_took(Duration::from_millis(ms));
        }
        let text = m.render();
        for line in [
            "saferound_sync_duration_seconds_bucket{le=\"0.005\"} 2",
            "saferound_sync_duration_seconds_bucket{le=\"0.05\"} 4",
            "saferound_sync_duration_seconds_bucket{le=\"1\"} 5",
            "saferound_sync_duration_seconds_bucket{le=\"30\"} 5",
            "saferound_sync_duration_seconds_bucket{le=\"+Inf\"} 6",
            "saferound_sync_duration_seconds_count 6",
            "# TYPE saferound_sync_duration_seconds histogram",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
