//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs`, run by cargo-fuzz) and of
//! the stable test that replays their corpora and fixed crashers
//! (`server/tests/fuzz_replay.rs`). Each takes untrusted bytes through the very functions
//! the server (or the device store) runs on them, and checks what must hold whatever the
//! bytes: no panic outside the guarded Automerge calls, bounded work, and agreement
//! between our own bounded checks and Automerge's parser.

// Fuzz targets: a broken invariant must crash the fuzzer, which reports it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use automerge::AutoCommit;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use saferound_core::ids::{DocId, InstitutionId};
use saferound_core::model::Role;
use saferound_core::sync::wire::{self, PushDoc, SyncRequest, SyncResponse};
use saferound_core::{demo, doc};

use crate::store::{DeviceAuth, StoredDoc, User};
use crate::sync::{self, Outcome};

/// The targets by name, as the replay test and `scripts/fuzz.sh` know them.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("sync_request", sync_request),
    ("change_chunks", change_chunks),
    ("stored_document", stored_document),
    ("blob_upload", blob_upload),
    ("export_query", export_query),
];

/// A device of the demo college's inspector, with `actor` as its bound actor.
fn device(actor: Vec<u8>) -> DeviceAuth {
    let id = demo::identity("inspector").expect("the demo inspector");
    DeviceAuth {
        device_id: "fuzz".into(),
        institution: id.institution,
        actor,
        user: User {
            id: id.user.user_id,
            institution: Some(id.institution),
            department: id.department,
            login: "inspector".into(),
            name: id.user.name,
            roles: vec![Role::Inspector],
            password_hash: String::new(),
            active: true,
        },
    }
}

/// Runs the server's per-document path (bounds, framing, parse, actor, trial merge,
/// validation, ledger derivation) and checks an acceptance is really a valid document.
fn merge(device: &DeviceAuth, push: &PushDoc, stored: Option<&StoredDoc>) {
    let judging = sync::validate::Judging {
        directory: None,
        received: saferound_core::ids::Timestamp(chrono::Utc::now()),
    };
    match sync::merge_one(device, push, stored, &Default::default(), &judging) {
        Outcome::Commit(c, _, _) => {
            // What would be committed: the stored bytes plus the new change chunks
            // must load again (the server's next load of this document).
            let mut bytes = stored.map(|s| s.bytes.clone()).unwrap_or_default();
            for ch in &c.changes {
                bytes.extend_from_slice(&ch.bytes);
            }
            assert!(
                AutoCommit::load(&bytes).is_ok(),
                "an accepted push must load back"
            );
        }
        Outcome::Unchanged(..) | Outcome::Rejected(_) => {}
    }
}

/// `POST /api/v1/sync`'s body: the CBOR decode with the server's limit, then every
/// pushed document through the per-document checks; and the same bytes as an answer,
/// which the device decodes.
pub fn sync_request(data: &[u8]) {
    if let Ok(req) = wire::decode::<SyncRequest>(data, wire::MAX_REQUEST_BYTES) {
        let again = wire::encode(&req);
        assert_eq!(
            wire::decode::<SyncRequest>(&again, wire::MAX_REQUEST_BYTES).ok(),
            Some(req.clone()),
            "a decoded request encodes to itself"
        );
        let dev = device(vec![7; 16]);
        for p in req.docs.iter().take(wire::MAX_DOCS_PER_REQUEST) {
            merge(&dev, p, None);
        }
    }
    let _ = wire::decode::<SyncResponse>(data, wire::MAX_REQUEST_BYTES);
}

/// The objects the depth check reads from a change's columns are the ones Automerge's
/// own expansion of it finds.
fn assert_objects_made_alike(change: &automerge::Change) {
    use automerge::legacy::{ObjectId, OpType};
    let Ok(e) = sync::guarded(|| change.decode()) else {
        return;
    };
    let expected: Vec<(u64, Vec<u8>, Option<(u64, Vec<u8>)>)> = e
        .operations
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op.action, OpType::Make(_)))
        .map(|(i, op)| {
            let parent = match &op.obj {
                ObjectId::Root => None,
                ObjectId::Id(id) => Some((id.0, id.1.to_bytes().to_vec())),
            };
            (
                e.start_op.get() + i as u64,
                e.actor_id.to_bytes().to_vec(),
                parent,
            )
        })
        .collect();
    let got: Vec<_> = saferound_core::codec::objects_made(change.raw_bytes())
        .expect("a change Automerge parsed has readable object columns")
        .into_iter()
        .map(|o| {
            (
                o.id.0,
                o.id.1.to_vec(),
                o.parent.map(|(n, a)| (n, a.to_vec())),
            )
        })
        .collect();
    assert_eq!(got, expected, "objects made read alike");
}

/// Change chunks as a device pushes them for one document (concatenated; bytes that do
/// not split are taken as one chunk): the bounded framing check must agree with
/// Automerge's parser on the operation count, and the push goes through the server's
/// per-document path as if its actor were the device's, so validation is reached too.
pub fn change_chunks(data: &[u8]) {
    let chunks: Vec<&[u8]> =
        saferound_core::codec::split_change_chunks(data).unwrap_or_else(|_| vec![data]);
    let mut actor = None;
    let mut scratch = AutoCommit::new();
    for c in &chunks {
        let framing = saferound_core::codec::check_change_chunk(c);
        if let Ok(change) = sync::parse_change(c) {
            let info = framing.expect("a change Automerge parsed passed the framing check");
            assert_eq!(change.len() as u64, info.ops, "operations counted alike");
            assert_objects_made_alike(&change);
            actor.get_or_insert_with(|| change.actor_id().to_bytes().to_vec());
            let _ = sync::guarded(|| scratch.apply_changes([change]));
        }
    }
    // The push names the document its changes say they are, so the header check passes
    // and the role rules run.
    let id = sync::guarded(|| doc::header(&scratch).ok().map(|h| h.id))
        .ok()
        .flatten()
        .unwrap_or(DocId(uuid::Uuid::nil()));
    let heads = wire::heads_to_bytes(&scratch.get_heads());
    let push = PushDoc {
        id: id.0,
        heads,
        changes: chunks
            .iter()
            .map(|c| serde_bytes::ByteBuf::from(c.to_vec()))
            .collect(),
    };
    merge(&device(actor.unwrap_or_else(|| vec![7; 16])), &push, None);
}

/// A stored document as the server loads it (snapshot followed by appended change
/// chunks) and as the device store splits its unsnapshotted changes; what loads is
/// read as the ledger reads it, and must save and load again.
pub fn stored_document(data: &[u8]) {
    if let Ok(parts) = saferound_core::codec::split_change_chunks(data) {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        assert_eq!(total, data.len(), "chunks cover the bytes exactly");
    }
    let Ok(Ok(mut d)) = sync::guarded(|| saferound_core::codec::load_stored(data)) else {
        return;
    };
    let _ = sync::guarded(|| {
        let _ = crate::ledger::derive(&mut d, None);
    });
    if let Ok(saved) = sync::guarded(|| d.save()) {
        assert!(
            sync::guarded(|| AutoCommit::load(&saved))
                .map(|r| r.is_ok())
                .unwrap_or(true),
            "a saved document loads"
        );
    }
}

/// `PUT /api/v1/blobs/{hash}`: the hash in the path and the resumable upload's headers.
/// Input: lines `hash`, `Upload-Offset`, `Upload-Length`, body length.
pub fn blob_upload(data: &[u8]) {
    let mut lines = data.split(|b| *b == b'\n');
    let hash = lines.next().unwrap_or_default();
    let _ = crate::http::blobs::parse_hash(&String::from_utf8_lossy(hash));
    let mut headers = HeaderMap::new();
    for name in ["upload-offset", "upload-length"] {
        if let Some(v) = lines.next().and_then(|v| HeaderValue::from_bytes(v).ok()) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    let body_len = lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok()?.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if let Ok((offset, total)) = crate::http::blobs::upload_range(&headers, body_len) {
        let max = saferound_core::store::blobs::DEFAULT_MAX_PHOTO_BYTES as u64;
        assert!(offset + body_len as u64 <= max);
        assert!(total.is_none_or(|t| t <= max && offset + body_len as u64 <= t));
    }
}

/// The query strings of the ledger page, the exports (CSV, .xlsx), the weekly grid and
/// `GET /api/v1/hazards`, parsed as axum parses them, turned into ledger queries.
pub fn export_query(data: &[u8]) {
    let Ok(qs) = std::str::from_utf8(data) else {
        return;
    };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).expect("a date");
    let scope = Some(InstitutionId(uuid::Uuid::nil()));
    let Ok(uri) = format!("/?{qs}").parse::<axum::http::Uri>() else {
        return;
    };
    if let Ok(Query(f)) = Query::<crate::web::pages::Filter>::try_from_uri(&uri) {
        for s in [scope, None] {
            if let Ok(q) = f.query_in(s, today, saferound_core::clock::default_tz()) {
                assert!(s.is_none() || q.institution == s, "confined to the scope");
                assert!(q.limit <= 500);
            }
        }
        let _ = f.qs();
    }
    if let Ok(Query(p)) = Query::<crate::http::api::HazardParams>::try_from_uri(&uri) {
        let q =
            crate::http::api::hazard_query(p, scope, today, saferound_core::clock::default_tz());
        assert!(q.limit <= 500 && q.institution == scope);
    }
    if let Ok(Query(m)) = Query::<std::collections::HashMap<String, String>>::try_from_uri(&uri) {
        let end = m
            .get("end")
            .and_then(|d| d.parse::<chrono::NaiveDate>().ok())
            .unwrap_or(today);
        let weeks = m.get("weeks").and_then(|w| w.parse().ok()).unwrap_or(8);
        let list = crate::web::reports::week_list(end, weeks);
        assert!(list.len() <= crate::web::reports::MAX_WEEKS as usize);
    }
}

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn sleb(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0) {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A well-formed uncompressed change chunk of a few dozen bytes whose run-length encoded
/// columns claim `ops` operations (each `put(ROOT, "k", null)`): the "compressed data
/// that inflates enormously" of Automerge's own format. Automerge's parser counts them
/// one by one, so without `check_change_chunk`'s bound a device could keep a server
/// thread busy for days with one request. Used by the fixed crasher, the replay test and
/// the end-to-end hostile tests.
pub fn op_bomb(actor: &[u8], deps: &[automerge::ChangeHash], seq: u64, ops: u64) -> Vec<u8> {
    let n = i64::try_from(ops).unwrap_or(i64::MAX);
    let mut body = Vec::new();
    uleb(&mut body, deps.len() as u64);
    for d in deps {
        body.extend_from_slice(&d.0);
    }
    uleb(&mut body, actor.len() as u64);
    body.extend_from_slice(actor);
    uleb(&mut body, seq); // seq
    uleb(&mut body, 1); // start op
    sleb(&mut body, 0); // time
    uleb(&mut body, 0); // message
    uleb(&mut body, 0); // other actors
    // (spec, data): key strings, insert flags, actions, value metadata, predecessor counts.
    let run = |value: &[u8]| {
        let mut c = Vec::new();
        sleb(&mut c, n);
        c.extend_from_slice(value);
        c
    };
    let mut insert = Vec::new();
    uleb(&mut insert, ops);
    let cols: Vec<(u64, Vec<u8>)> = vec![
        ((1 << 4) | 5, run(&[1, b'k'])),
        ((3 << 4) | 4, insert),
        ((4 << 4) | 2, run(&[1])),
        ((5 << 4) | 6, run(&[0])),
        (7 << 4, run(&[0])),
    ];
    uleb(&mut body, cols.len() as u64);
    for (spec, data) in &cols {
        uleb(&mut body, *spec);
        uleb(&mut body, data.len() as u64);
    }
    for (_, data) in &cols {
        body.extend_from_slice(data);
    }
    let mut hashed = vec![1u8];
    uleb(&mut hashed, body.len() as u64);
    hashed.extend_from_slice(&body);
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&hashed);
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83];
    chunk.extend_from_slice(&digest[..4]);
    chunk.extend_from_slice(&hashed);
    chunk
}
