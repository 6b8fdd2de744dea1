//! The safety office's web dashboard against a real server process: sessions and CSRF,
//! every hazard action by every role (allowed ones land in the same documents the phones
//! sync; forbidden ones are refused and change nothing), the overdue board on a clock set
//! past the deadline, exports read back, the weekly grid, incidents over server-sent
//! events.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use saferound_core::demo;
use saferound_core::device::{Assignment, NewIncidentInput};
use saferound_core::ids::LocalDate;
use saferound_core::model::{HazardCategory, RiskGrade};
mod actions;
mod home;
mod reports;
mod sessions;

use saferound_tests::{DEMO_PASSWORD, Server, enroll, get_json, sync};

/// A browser-like client: keeps the session cookie, does not follow redirects.
pub(crate) struct Web {
    url: String,
    pub(crate) agent: ureq::Agent,
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) location: String,
    pub(crate) body: String,
    pub(crate) headers: HashMap<String, String>,
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

pub(crate) fn page(mut r: ureq::http::Response<ureq::Body>) -> Page {
    // A header sent more than once (set-cookie) keeps every value, one per line.
    let mut headers: HashMap<String, String> = HashMap::new();
    for (k, v) in r.headers() {
        let v = v.to_str().unwrap_or("");
        headers
            .entry(k.as_str().to_string())
            .and_modify(|all| {
                all.push('\n');
                all.push_str(v);
            })
            .or_insert_with(|| v.to_string());
    }
    Page {
        status: r.status().as_u16(),
        location: headers.get("location").cloned().unwrap_or_default(),
        body: r.body_mut().read_to_string().unwrap_or_default(),
        headers,
    }
}

/// `name=value` of the cookie `name` a response sets.
pub(crate) fn cookie_named(p: &Page, name: &str) -> Option<String> {
    p.headers
        .get("set-cookie")?
        .lines()
        .map(|c| c.split(';').next().unwrap_or("").to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn csrf_of(body: &str) -> Option<String> {
    let i = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(body[i..i + 64].to_string())
}

impl Web {
    pub(crate) fn try_login(server: &Server, login: &str, password: &str) -> (Page, Option<Web>) {
        let a = agent();
        // The login form's CSRF token, in the page and in its cookie.
        let form = page(
            a.get(format!("{}/login", server.url))
                .call()
                .expect("GET /login"),
        );
        let token = csrf_of(&form.body).expect("a csrf token on the login form");
        let login_cookie = cookie_named(&form, "sr_login").expect("the login cookie");
        let p = page(
            a.post(format!("{}/login", server.url))
                .header("Cookie", &login_cookie)
                .send_form([("login", login), ("password", password), ("csrf", &token)])
                .expect("POST /login"),
        );
        if p.status != 303 {
            return (p, None);
        }
        let cookie = cookie_named(&p, "sr_session").expect("a session cookie");
        let mut w = Web {
            url: server.url.clone(),
            agent: a,
            cookie,
            csrf: String::new(),
        };
        // A one-time password sends every page to the password form first.
        let mut first = w.get("/ledger");
        if first.status == 303 && first.location == "/account/password" {
            first = w.get("/account/password");
        }
        assert_eq!(first.status, 200, "{}", first.body);
        w.csrf = csrf_of(&first.body).expect("a csrf token on the page");
        (p, Some(w))
    }

    pub(crate) fn login(server: &Server, login: &str) -> Web {
        Self::try_login(server, login, DEMO_PASSWORD)
            .1
            .unwrap_or_else(|| panic!("login {login}"))
    }

    pub(crate) fn get(&self, path: &str) -> Page {
        page(
            self.agent
                .get(format!("{}{path}", self.url))
                .header("Cookie", &self.cookie)
                .call()
                .expect("GET"),
        )
    }

    pub(crate) fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.url))
            .header("Cookie", &self.cookie)
            .call()
            .expect("GET");
        (
            r.status().as_u16(),
            r.body_mut().read_to_vec().unwrap_or_default(),
        )
    }

    pub(crate) fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut f: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        f.extend_from_slice(form);
        page(
            self.agent
                .post(format!("{}{path}", self.url))
                .header("Cookie", &self.cookie)
                .send_form(f)
                .expect("POST"),
        )
    }
}

impl Web {
    /// Another client on the same session (its own connection pool).
    fn clone_session(&self) -> Web {
        Web {
            url: self.url.clone(),
            agent: agent(),
            cookie: self.cookie.clone(),
            csrf: self.csrf.clone(),
        }
    }

    /// Posts a `multipart/form-data` form, as a browser does for a form with a file
    /// input: the CSRF token and `fields`, then each photo as a `photos` file part.
    pub(crate) fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        photos: &[&[u8]],
    ) -> Page {
        let boundary = "----saferound-test-boundary-7d1f";
        let mut body = Vec::new();
        let csrf = [("csrf", self.csrf.as_str())];
        for (k, v) in csrf.iter().chain(fields) {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (i, photo) in photos.iter().enumerate() {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"p{i}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(photo);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        page(
            self.agent
                .post(format!("{}{path}", self.url))
                .header("Cookie", &self.cookie)
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .send(&body[..])
                .expect("POST multipart"),
        )
    }
}

/// Bytes that pass as a JPEG photo (its magic number, then noise), different per seed.
fn jpeg(seed: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0xFF, 0xD8, 0xFF, 0xE0];
    p.extend(
        (0..len as u32).map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8),
    );
    p
}

/// The cells of one sheet of an .xlsx file, as text, row by row.
pub(crate) fn xlsx_rows(bytes: Vec<u8>, sheet: &str) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("an .xlsx file");
    wb.worksheet_range(sheet)
        .unwrap_or_else(|e| panic!("sheet {sheet}: {e}"))
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    saferound_core::ids::BlobHash::of(bytes).to_string()
}

fn user_id(login: &str) -> String {
    demo::user(login).to_string()
}

/// The hazard's ledger rows as the canonical dump prints them (events included).
fn hazard_dump(server: &Server, id: &str) -> String {
    server
        .dump_ledger()
        .lines()
        .filter(|l| l.contains(id))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first hazard of the demo ledger (newest first) in a given status.
fn hazard_in(w: &Web, status: &str) -> String {
    let p = w.get(&format!("/ledger?status={status}"));
    let i = p.body.find("/hazards/").expect("a hazard in that status") + "/hazards/".len();
    p.body[i..i + 36].to_string()
}

/// A webhook receiver on a loopback port: answers the first call with a 500 (the server
/// must try again), every later one with a 200; sends each body it accepted.
pub(crate) fn webhook_receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { break };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let l = line.to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            if n > 0
                && tx
                    .send(String::from_utf8_lossy(&body).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    (url, rx)
}

/// Files `n` incidents on `d` (titled `tag` and a number); their ids, in order.
pub(crate) fn file_incidents(d: &saferound_core::Device, n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|k| {
            d.file_incident(&NewIncidentInput {
                occurred_at: None,
                site: Some(demo::site("1号学生公寓")),
                location: format!("{k}号房"),
                category: HazardCategory::FireSafety,
                severity: RiskGrade::General,
                title: format!("{tag}{k}"),
                description: "楼道烟雾报警".into(),
                actions_taken: "已排查".into(),
            })
            .unwrap()
            .to_string()
        })
        .collect()
}

/// Bodies from the webhook receiver until `n` have come (60 s at most); their incident
/// ids, in the order they came.
pub(crate) fn webhook_ids(rx: &std::sync::mpsc::Receiver<String>, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    (0..n)
        .map(|i| {
            let body = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("only {i} of {n} incidents reached the webhook"));
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Asserts the dashboard action is refused with `status` and the hazard's ledger rows are
/// exactly as before.
fn refused(server: &Server, w: &Web, id: &str, form: &[(&str, &str)], status: u16) {
    let before = hazard_dump(server, id);
    let p = w.post(&format!("/hazards/{id}/act"), form);
    assert_eq!(p.status, status, "{form:?}: {}", p.body);
    assert_eq!(
        hazard_dump(server, id),
        before,
        "{form:?} changed the ledger"
    );
}

fn allowed(w: &Web, id: &str, form: &[(&str, &str)]) {
    let p = w.post(&format!("/hazards/{id}/act"), form);
    assert_eq!(p.status, 303, "{form:?}: {}", p.body);
    assert!(p.location.ends_with("?msg=ok"));
}

/// The hazard's status code, as its dashboard page shows it.
fn status_of(w: &Web, id: &str) -> String {
    let body = w.get(&format!("/hazards/{id}")).body;
    let i = body.find("id=\"status\">").expect("status") + "id=\"status\">".len();
    let label = &body[i..i + body[i..].find('<').unwrap()];
    saferound_core::model::HazardStatus::ALL
        .iter()
        .find(|s| s.label(saferound_core::model::Lang::Zh) == label)
        .map(|s| s.code().to_string())
        .unwrap_or_else(|| label.to_string())
}
