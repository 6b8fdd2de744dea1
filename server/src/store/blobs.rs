//! Photos: their bytes are files (`http::blobs`); this records which institution holds
//! which, who uploaded it, and whether a document references it yet.

use saferound_core::ids::InstitutionId;

use super::rows::now;
use super::sql::{args, statements};
use super::{Result, Store, StoreError};

statements! {
    RECORD_BLOB = "INSERT INTO blobs (institution, hash, size, content_type, received_at, uploaded_by, referenced)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0) ON CONFLICT DO NOTHING";
    BLOB = "SELECT size, content_type FROM blobs WHERE institution = ?1 AND hash = ?2";
    REFERENCE_BLOB = "UPDATE blobs SET referenced = 1 WHERE institution = ?1 AND hash = ?2";
    /// Bytes of unreferenced photos: of one uploader (`?2`), and of the whole
    /// institution (`?1`).
    UNREFERENCED_BYTES = "SELECT
         CAST(COALESCE(SUM(CASE WHEN uploaded_by = ?2 THEN size ELSE 0 END), 0) AS BIGINT),
         CAST(COALESCE(SUM(size), 0) AS BIGINT)
       FROM blobs WHERE institution = ?1 AND referenced = 0";
    EXPIRE_BLOBS =
        "DELETE FROM blobs WHERE referenced = 0 AND received_at < ?1 RETURNING hash";
    BLOB_HELD = "SELECT 1 FROM blobs WHERE hash = ?1 LIMIT 1";
}

/// A size or count read from the database, which must not be negative.
fn unsigned(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("bad {what} {v}")))
}

impl Store {
    /// A photo arrived whole from `uploaded_by` (a device or a user id); not referenced
    /// by any document yet.
    pub async fn record_blob(
        &self,
        institution: InstitutionId,
        hash: &str,
        size: u64,
        content_type: &str,
        uploaded_by: &str,
    ) -> Result<()> {
        let size = i64::try_from(size).map_err(|_| StoreError::Corrupt("photo size".into()))?;
        self.db
            .execute(
                RECORD_BLOB,
                &args![institution, hash, size, content_type, now(), uploaded_by],
            )
            .await?;
        Ok(())
    }

    /// The blob's size and type, if this institution holds it.
    pub async fn blob(
        &self,
        institution: InstitutionId,
        hash: &str,
    ) -> Result<Option<(u64, String)>> {
        self.db
            .query_opt(BLOB, &args![institution, hash])
            .await?
            .map(|r| Ok((unsigned(r.get(0)?, "size")?, r.get(1)?)))
            .transpose()
    }

    /// A document of the institution references the photo: it is kept for good. False
    /// when the institution does not hold it.
    pub async fn reference_blob(&self, institution: InstitutionId, hash: &str) -> Result<bool> {
        Ok(self
            .db
            .execute(REFERENCE_BLOB, &args![institution, hash])
            .await?
            > 0)
    }

    /// Bytes of photos no document references yet: uploaded by `uploaded_by`, and in the
    /// whole institution.
    pub async fn unreferenced_blob_bytes(
        &self,
        institution: InstitutionId,
        uploaded_by: &str,
    ) -> Result<(u64, u64)> {
        let r = self
            .db
            .query_one(UNREFERENCED_BYTES, &args![institution, uploaded_by])
            .await?;
        Ok((unsigned(r.get(0)?, "bytes")?, unsigned(r.get(1)?, "bytes")?))
    }

    /// Forgets the photos still unreferenced that arrived before `received_before` (RFC
    /// 3339); the hashes no institution holds any more, whose files may go.
    pub async fn expire_blobs(&self, received_before: &str) -> Result<Vec<String>> {
        let before = received_before.to_string();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let gone = tx.query(EXPIRE_BLOBS, &args![&before]).await?;
                    let mut orphans: Vec<String> = Vec::new();
                    for r in gone {
                        let h: String = r.get(0)?;
                        let held = tx.query_opt(BLOB_HELD, &args![&h]).await?.is_some();
                        if !held && !orphans.contains(&h) {
                            orphans.push(h);
                        }
                    }
                    Ok(orphans)
                })
            })
            .await
    }
}
