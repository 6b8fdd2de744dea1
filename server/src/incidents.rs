//! News of incidents as they arrive: the wait for a commit that may hold one (the
//! dashboard's incident stream and the webhook both use it), an incident as JSON, and the
//! webhook that sends each new incident to a receiver once (`--incident-webhook`).

use std::time::Duration;

use chrono::FixedOffset;
use saferound_core::ids::InstitutionId;
use serde_json::json;

use crate::state::AppState;
use crate::store::{LockFor, ReportOrder, ReportReceipt};

/// An incident as the stream and the webhook send it, times in the institution's zone.
pub fn incident_json(r: &ReportReceipt, tz: FixedOffset) -> serde_json::Value {
    json!({
        "seq": r.first_seq,
        "id": r.id,
        "title": r.title,
        "received": crate::export::local_time(&r.received_at, tz),
        "phone": r.filed_at.as_deref().map(|t| crate::export::local_time(t, tz)),
        "institution": r.institution,
    })
}

/// The incident stream looks again at the latest this long after its last look, notice
/// or not: a lost notification (PostgreSQL's listening connection down, a commit by a
/// process that does not notify) only delays an incident by this much.
const FALLBACK_POLL: Duration = Duration::from_secs(5);

/// Several commits in quick succession make one look, not one each: after a notice the
/// stream waits this long and takes every notice that arrived meanwhile with it.
const COALESCE: Duration = Duration::from_millis(100);

/// Waits until documents of `scope` (`None`: every institution) may have changed: a
/// storage notice about that institution (or about anything, `None`), or `FALLBACK_POLL`.
pub async fn changed(
    notices: &mut tokio::sync::broadcast::Receiver<crate::store::ChangeNotice>,
    scope: Option<InstitutionId>,
) {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    let fallback = tokio::time::sleep(FALLBACK_POLL);
    tokio::pin!(fallback);
    loop {
        tokio::select! {
            _ = &mut fallback => return,
            notice = notices.recv() => match notice {
                // Another institution's commit: not ours to look at.
                Ok(Some(i)) if scope.is_some_and(|s| s != i) => continue,
                // Ours, unknown, or so many that some were missed: look.
                Ok(_) | Err(RecvError::Lagged(_)) => break,
                // The storage is gone (shutting down): polling is all there is.
                Err(RecvError::Closed) => {
                    fallback.as_mut().await;
                    return;
                }
            },
        }
    }
    tokio::time::sleep(COALESCE).await;
    // The look that follows covers everything announced so far.
    while !matches!(
        notices.try_recv(),
        Err(TryRecvError::Empty | TryRecvError::Closed)
    ) {}
}

/// Calls `url` with a JSON body for every incident the server receives from now on, in
/// the order received. With several replicas on one database only the one holding the
/// webhook lock sends; the others wait for it. Where the sender has got to is kept in the
/// database (`meta`), so a replica taking over — or this one after a restart — goes on
/// from the last incident sent, not from its own start: each incident is sent once, or
/// (a sender dying between the call and recording it) at worst twice, never skipped.
pub async fn run_webhook(state: AppState, url: String) {
    loop {
        let lead = match state.storage.lock(LockFor::IncidentWebhook).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("incident webhook: cannot take the sender's lock: {e}");
                tokio::time::sleep(WEBHOOK_FIRST_RETRY).await;
                continue;
            }
        };
        if let Err(e) = send_incidents(&state, &url, &lead).await {
            tracing::warn!("incident webhook: {e}; starting again");
            tokio::time::sleep(WEBHOOK_FIRST_RETRY).await;
        }
    }
}

/// Where the webhook's sender has got to: the feed position of the last incident sent.
const WEBHOOK_CURSOR: &str = "incident_webhook_cursor";

/// Where the webhook's sender is, set up on first use at the newest incident (what came
/// before the webhook was configured is not news). `main` calls it before the server
/// takes requests, so no incident slips in between.
pub async fn webhook_cursor(state: &AppState) -> Result<i64, crate::store::StoreError> {
    let storage = state.storage.as_ref();
    if let Some(at) = storage.position(WEBHOOK_CURSOR).await? {
        return Ok(at);
    }
    let newest = storage
        .reports(None, "incident_report", 0, 1, ReportOrder::NewestFirst)
        .await?
        .first()
        .map(|r| r.first_seq)
        .unwrap_or(0);
    storage.advance_position(WEBHOOK_CURSOR, newest).await?;
    // Read back: had another process set it meanwhile, its value stands.
    Ok(storage.position(WEBHOOK_CURSOR).await?.unwrap_or(newest))
}

/// Sends incidents while `lead` holds the sender's lock; returns when it no longer does.
async fn send_incidents(
    state: &AppState,
    url: &str,
    lead: &crate::store::HeldLock,
) -> Result<(), crate::store::StoreError> {
    let storage = state.storage.as_ref();
    // Subscribed before the first look, as the incident stream is.
    let mut notices = storage.subscribe_changes();
    let mut last = webhook_cursor(state).await?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(WEBHOOK_TIMEOUT))
        .build()
        .into();
    let mut receiver_down = false;
    while lead.held() {
        let list = storage
            .reports(None, "incident_report", last, 50, ReportOrder::OldestFirst)
            .await?;
        if list.is_empty() {
            changed(&mut notices, None).await;
            continue;
        }
        // Oldest first, one at a time, each retried before the next: the receiver gets
        // them in the order the server received them.
        for r in &list {
            if !lead.held() {
                return Ok(());
            }
            let tz = state.tz(r.institution.parse().ok()).await;
            let body = incident_json(r, tz).to_string();
            let attempts = if receiver_down { 1 } else { WEBHOOK_ATTEMPTS };
            receiver_down = !call_webhook(&agent, url, &r.id, body, attempts).await;
            last = last.max(r.first_seq);
            // The position only moves forward: had this process lost its turn during
            // the call, the new sender's position is not put back.
            storage.advance_position(WEBHOOK_CURSOR, last).await?;
        }
    }
    Ok(())
}

/// How often the webhook is tried for one incident, and the wait before the first retry
/// (doubling after each: 2, 4, 8, 16, 32 s). With each try allowed `WEBHOOK_TIMEOUT`, a
/// receiver that does not answer at all costs one incident about two minutes; then it is
/// logged as not delivered. While the receiver is down (the last incident was given up),
/// each next incident is tried once, so a backlog does not wait two minutes apiece; the
/// first success ends that. The dashboard has every incident either way.
const WEBHOOK_ATTEMPTS: u32 = 6;
const WEBHOOK_FIRST_RETRY: Duration = Duration::from_secs(2);
/// One call may take this long (connect, send, answer) before it counts as failed.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Calls the webhook for one incident; whether it was delivered.
async fn call_webhook(
    agent: &ureq::Agent,
    url: &str,
    incident: &str,
    body: String,
    attempts: u32,
) -> bool {
    let mut wait = WEBHOOK_FIRST_RETRY;
    for attempt in 1..=attempts {
        let (a, u, b) = (agent.clone(), url.to_string(), body.clone());
        let sent = tokio::task::spawn_blocking(move || {
            a.post(&u)
                .header("Content-Type", "application/json")
                .send(b.as_bytes())
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match sent {
            Ok(()) => {
                tracing::info!(incident, attempt, "webhook called");
                return true;
            }
            Err(e) if attempt < attempts => {
                tracing::warn!(incident, attempt, "webhook failed: {e}; trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => tracing::error!(
                incident,
                "webhook failed {attempts} time(s), giving up on this incident: {e}"
            ),
        }
    }
    false
}
