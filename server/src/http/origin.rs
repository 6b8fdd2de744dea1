//! How the server is reached, as browsers see it (`--public-url`, TLS): what the guard
//! compares a request's `Origin` with, and whether cookies are `Secure`.

use axum::http::{HeaderMap, header};

/// How the server is reached, as the browser sees it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `--public-url`'s origin (`https://safety.example.edu.cn`), when set: the only
    /// origin a browser's request may come from.
    pub public: Option<String>,
    /// Served over TLS by this process, or the public URL is https: cookies are
    /// `Secure` and HSTS is sent.
    pub https: bool,
}

impl Origin {
    /// From `--public-url` (scheme, host and port; a path is ignored) and whether this
    /// process serves TLS itself.
    pub fn new(public_url: Option<&str>, tls: bool) -> Result<Origin, String> {
        let public =
            match public_url {
                None => None,
                Some(u) => Some(origin_of(u).ok_or_else(|| {
                    format!("--public-url {u:?} is not an http:// or https:// URL")
                })?),
            };
        let https = tls || public.as_deref().is_some_and(|p| p.starts_with("https://"));
        Ok(Origin { public, https })
    }

    /// Whether a request that names `origin` comes from this server's own pages. Without
    /// a public URL the origin must name the host the request was sent to.
    pub(crate) fn allows(&self, origin: &str, headers: &HeaderMap) -> bool {
        if let Some(p) = &self.public {
            return origin.eq_ignore_ascii_case(p);
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let scheme = if self.https { "https" } else { "http" };
        origin.eq_ignore_ascii_case(&format!("{scheme}://{host}"))
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains(['@', '\\', ' ']) {
        return None;
    }
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), host))
}
