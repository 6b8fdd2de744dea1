use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use saferound_core::ids::DocId;
use saferound_core::{Device, FixedClock, demo};

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse::<DateTime<Utc>>().expect("test instant")
}

/// A device of the demo institution, logged in as `login`, with the directory in place.
pub fn device(dir: &Path, login: &str, clock: &FixedClock) -> Device {
    let d = Device::init(
        dir.join(format!("{login}.db")),
        demo::identity(login).expect("demo login"),
        Arc::new(clock.clone()),
    )
    .expect("init device");
    d.import_directory(&demo::directory()).expect("directory");
    d
}

/// Hands a whole document from one device to another, as the server would.
pub fn send(from: &Device, to: &Device, id: DocId) {
    let mut doc = from
        .store()
        .load(id)
        .expect("load")
        .expect("document exists");
    to.receive(id, &doc.save()).expect("receive");
}

/// A tiny but valid-looking JPEG.
pub fn jpeg(tag: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend_from_slice(tag.as_bytes());
    v
}

pub fn heads(d: &Device, id: DocId) -> Vec<automerge::ChangeHash> {
    d.store().load(id).unwrap().unwrap().get_heads()
}
