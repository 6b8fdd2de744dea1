//! A handful of plain TCP clients cannot exhaust the server: a connection that sends no
//! complete header is closed, one past the cap gets a 503, a trickled body ends its
//! request, a large body is refused before it is read, and SIGTERM exits within the
//! drain limit even with stalled clients. Outcomes, not timings: every wait is bounded
//! generously and only what happened is asserted.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use saferound_tests::{DEMO_PASSWORD, Server, enroll, token};

fn addr(server: &Server) -> String {
    server
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Whether the server closed `s` (EOF or reset) within `limit`, reading whatever it sent.
fn closed_within(s: &mut TcpStream, limit: Duration) -> (bool, String) {
    s.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return (true, String::from_utf8_lossy(&got).into()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (true, String::from_utf8_lossy(&got).into()),
        }
    }
    (false, String::from_utf8_lossy(&got).into())
}

/// Whether a chunked response on `s` ends (its last chunk, or the connection closed)
/// within `limit`.
fn stream_ends_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(7).any(|w| w == b"\r\n0\r\n\r\n") {
                    return true;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// An authenticated sync whose header is sent and whose body is not: 10 of 100,000 bytes.
fn held_sync(server: &Server, phone: &saferound_core::Device) -> TcpStream {
    let mut s = TcpStream::connect(addr(server)).unwrap();
    write!(
        s,
        "POST /api/v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/cbor\r\nContent-Length: 100000\r\n\r\n",
        token(phone)
    )
    .unwrap();
    s.write_all(&[0xa0; 10]).unwrap();
    s
}

fn healthz(server: &Server) -> Option<u16> {
    let a: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    a.get(format!("{}/healthz", server.url))
        .call()
        .ok()
        .map(|r| r.status().as_u16())
}

#[test]
fn slow_clients_are_cut_off_and_the_connection_cap_answers_503() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        tmp.path(),
        &[
            "--demo",
            "--max-connections",
            "6",
            "--header-timeout",
            "2",
            "--body-timeout",
            "2",
        ],
    );
    let phone = enroll(&server, tmp.path(), "p", "inspector", DEMO_PASSWORD);

    // Half a header, then nothing: closed by the header deadline.
    let mut slow = TcpStream::connect(addr(&server)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (closed, _) = closed_within(&mut slow, Duration::from_secs(20));
    assert!(closed, "a connection without a complete header is closed");

    // An authenticated sync whose body trickles: the request ends, the connection too.
    let mut trickle = held_sync(&server, &phone);
    let (closed, answer) = closed_within(&mut trickle, Duration::from_secs(20));
    assert!(closed, "a trickled body ends its request: {answer:?}");

    // Connections up to the cap held open; the next is told 503 and closed, and the
    // server answers again once they go.
    let held: Vec<TcpStream> = (0..6)
        .map(|_| TcpStream::connect(addr(&server)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = TcpStream::connect(addr(&server)).unwrap();
    let (closed, answer) = closed_within(&mut extra, Duration::from_secs(10));
    assert!(closed && answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    while healthz(&server) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "the server answers once the clients go"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Large bodies where none belongs are refused before they are read.
    let a: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let big = "x".repeat(100 * 1024);
    let status = |path: &str, ct: &str| {
        a.post(format!("{}{path}", server.url))
            .header("Content-Type", ct)
            .send(big.as_bytes())
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(status("/login", "application/x-www-form-urlencoded"), 413);
    assert_eq!(status("/api/v1/devices", "application/json"), 413);
}

#[test]
fn sigterm_stops_the_server_within_its_drain_limit_despite_stalled_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(tmp.path(), &["--demo", "--body-timeout", "600"]);
    let phone = enroll(&server, tmp.path(), "p", "inspector", DEMO_PASSWORD);
    // Clients stalled mid-header and mid-body (one sync: a device has one at a time), and
    // one idle.
    let mut stalled = vec![held_sync(&server, &phone)];
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr(&server)).unwrap();
        s.write_all(b"GET /ledger HTTP/1.1\r\nHost: x\r\n").unwrap();
        stalled.push(s);
    }
    stalled.push(TcpStream::connect(addr(&server)).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let status = server.terminate().expect("the server was running");
    let took = start.elapsed();
    assert!(
        status.success(),
        "it exits by itself, not killed: {status:?}"
    );
    // The drain limit is 10 s; `terminate` kills after 30 s.
    assert!(took < Duration::from_secs(25), "it took {took:?}");
    drop(stalled);
}

#[test]
fn one_sync_at_a_time_per_device_and_incident_streams_end_with_their_session() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let phone = enroll(&server, tmp.path(), "p", "inspector", DEMO_PASSWORD);

    // A sync whose body is still arriving holds the device's slot: a second sync of the
    // same device is told the server is busy (retryable), another device's is not.
    let held = held_sync(&server, &phone);
    std::thread::sleep(Duration::from_millis(500));
    let err = saferound_core::sync::client::sync(&phone, &mut |_| {}).unwrap_err();
    assert!(err.retryable(), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
    let other = enroll(&server, tmp.path(), "o", "office", DEMO_PASSWORD);
    assert!(saferound_tests::sync(&other).rejected.is_empty());
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    while saferound_core::sync::client::sync(&phone, &mut |_| {}).is_err() {
        assert!(
            Instant::now() < deadline,
            "the slot comes back with the connection"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Incident streams: a few per session, and each ends when the session does.
    let office = crate::dashboard::Web::login(&server, "office");
    let open_stream = || {
        let mut s = TcpStream::connect(addr(&server)).unwrap();
        write!(
            s,
            "GET /incidents/stream HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n",
            office.cookie
        )
        .unwrap();
        s
    };
    let status_of = |s: &mut TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).to_string()
    };
    let mut streams: Vec<TcpStream> = (0..4).map(|_| open_stream()).collect();
    for s in &mut streams {
        assert!(status_of(s).starts_with("HTTP/1.1 200"));
    }
    let mut fifth = open_stream();
    assert!(status_of(&mut fifth).starts_with("HTTP/1.1 429"));
    let p = office.post("/logout", &[]);
    assert_eq!(p.status, 303);
    for s in &mut streams {
        assert!(
            stream_ends_within(s, Duration::from_secs(20)),
            "the stream ends after logout"
        );
    }
}
