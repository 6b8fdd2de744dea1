//! Photo files for backup and restore. The database is copied by `Store::backup`; the
//! photos are files named by their SHA-256 under `<blobs>/<2 hex>/<hash>`, written (and
//! fsynced) before the database records them and never changed or deleted afterwards.
//! So copying the photo files *after* the database snapshot gives every photo the
//! snapshot refers to (plus perhaps a few newer ones, which are harmless), and copying
//! only the files the destination lacks is a correct incremental backup.

use std::io;
use std::path::Path;

/// Copies every complete photo file under `from` that `to` lacks (partial uploads stay
/// behind: a device resumes them). Returns how many files were copied.
pub fn copy_blobs(from: &Path, to: &Path) -> io::Result<usize> {
    let mut copied = 0;
    let Ok(dirs) = std::fs::read_dir(from) else {
        return Ok(0); // no photos yet
    };
    for dir in dirs {
        let dir = dir?;
        let name = dir.file_name();
        let Some(prefix) = name.to_str() else {
            continue;
        };
        // Only the two-hex-digit fan-out directories; `partial/` is work in progress.
        if prefix.len() != 2 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        for file in std::fs::read_dir(dir.path())? {
            let file = file?;
            let fname = file.file_name();
            let Some(hash) = fname.to_str() else {
                continue;
            };
            if hash.len() != 64 || !hash.starts_with(prefix) {
                continue;
            }
            let dest_dir = to.join(prefix);
            let dest = dest_dir.join(hash);
            if dest.exists() {
                continue; // content-addressed: the same name is the same bytes
            }
            std::fs::create_dir_all(&dest_dir)?;
            let tmp = dest_dir.join(format!(".{hash}.tmp"));
            std::fs::copy(file.path(), &tmp)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &dest)?;
            copied += 1;
        }
    }
    Ok(copied)
}
