//! Tables leaving the server as files: the ledger export, campaign and weekly summaries,
//! as CSV (with the byte-order mark Excel needs) or as a workbook.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Web;
use crate::export;
use crate::state::AppState;

pub(crate) fn download(content_type: &str, name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// How a table goes out: CSV (with the UTF-8 byte-order mark Excel needs) or a workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableFile {
    Csv,
    Xlsx,
}

impl TableFile {
    pub(crate) fn ext(self) -> &'static str {
        match self {
            TableFile::Csv => "csv",
            TableFile::Xlsx => "xlsx",
        }
    }
}

/// A table as a download named `name`.csv or `name`.xlsx (one sheet, `sheet`), the
/// workbook built off the async threads. The one way every export leaves the server.
pub(crate) async fn table_download(
    state: &AppState,
    web: &Web,
    file: TableFile,
    name: &str,
    sheet: &'static str,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
) -> Response {
    let file_name = format!("{name}.{}", file.ext());
    match file {
        TableFile::Csv => {
            let h: Vec<&str> = header.iter().map(String::as_str).collect();
            download(
                "text/csv; charset=utf-8",
                &file_name,
                export::csv(&h, &rows),
            )
        }
        TableFile::Xlsx => {
            let built = tokio::task::spawn_blocking(move || {
                let h: Vec<&str> = header.iter().map(String::as_str).collect();
                export::xlsx(sheet, &h, &rows)
            })
            .await;
            match built {
                Ok(Ok(bytes)) => download(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    &file_name,
                    bytes,
                ),
                Ok(Err(e)) => super::internal(state, web, e),
                Err(e) => super::internal(state, web, e),
            }
        }
    }
}
