//! Helpers for hostile-input tests: raw sync requests (bytes in, decoded answer out) and
//! a fingerprint of everything the server holds, to show a refusal changed nothing.

use saferound_core::sync::wire::{self, PushDoc, SyncRequest, SyncResponse};

use crate::{Server, agent};

/// A request of the current protocol pushing `docs`.
pub fn request(docs: Vec<PushDoc>) -> SyncRequest {
    SyncRequest {
        protocol: wire::PROTOCOL_VERSION,
        cursor: 0,
        docs,
        max_update_bytes: 1 << 20,
    }
}

/// POSTs raw bytes to `/api/v1/sync`: the status and, on 200, the decoded answer.
pub fn post_sync_bytes(
    agent: &ureq::Agent,
    server: &Server,
    token: &str,
    body: &[u8],
) -> (u16, Option<SyncResponse>) {
    let mut r = agent
        .post(format!("{}/api/v1/sync", server.url))
        .header("Content-Type", wire::CONTENT_TYPE)
        .header("Authorization", format!("Bearer {token}"))
        .send(body)
        .expect("POST /api/v1/sync");
    let status = r.status().as_u16();
    let bytes = r.body_mut().read_to_vec().unwrap_or_default();
    let answer = (status == 200)
        .then(|| wire::decode::<SyncResponse>(&bytes, usize::MAX).expect("a sync answer decodes"));
    (status, answer)
}

/// Encodes and POSTs a request; the status and the decoded answer.
pub fn post_sync(server: &Server, token: &str, req: &SyncRequest) -> (u16, Option<SyncResponse>) {
    post_sync_bytes(&agent(), server, token, &wire::encode(req))
}

/// Everything the server holds that a sync could change: the ledger's canonical dump,
/// every document's heads and size, and every stored change, read from its database.
pub fn server_state(server: &Server) -> String {
    let mut out = server.dump_ledger();
    let c = rusqlite::Connection::open_with_flags(
        &server.db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the server's database");
    for sql in [
        "SELECT institution, id, kind, hex(heads), bytes FROM documents ORDER BY institution, id",
        "SELECT institution, doc_id, hex(hash), hex(actor), length(bytes) FROM changes ORDER BY seq",
    ] {
        let mut stmt = c.prepare(sql).expect("query");
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        r.get_ref(i).map(|v| match v {
                            rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                            rusqlite::types::ValueRef::Text(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                            _ => "?".into(),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .expect("rows");
        for r in rows {
            out.push_str(&r.expect("row").join("\t"));
            out.push('\n');
        }
    }
    out
}
