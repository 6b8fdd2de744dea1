//! A flaky TCP proxy for bad-network tests: between devices and the server, it delays
//! traffic, refuses connections, and cuts connections partway through a request or an
//! answer, at random (seeded), until it is healed. Plain threads and `std::net`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// What the proxy did, for the test's report.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub connections: AtomicU64,
    pub refused: AtomicU64,
    pub cut: AtomicU64,
}

pub struct FlakyProxy {
    /// `http://127.0.0.1:<port>`: give this to devices instead of the server's URL.
    pub url: String,
    flaky: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    pub stats: Arc<ProxyStats>,
    addr: std::net::SocketAddr,
}

/// xorshift64*: enough randomness for fault injection, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

impl FlakyProxy {
    /// Forwards to `server_url` (`http://host:port`); starts healthy.
    pub fn start(server_url: &str, seed: u64) -> FlakyProxy {
        let upstream = server_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let flaky = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ProxyStats::default());
        let (f, s, st) = (flaky.clone(), stop.clone(), stats.clone());
        std::thread::spawn(move || {
            let mut rng = Rng(seed | 1);
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                st.connections.fetch_add(1, Ordering::Relaxed);
                let flaky = f.load(Ordering::SeqCst);
                if flaky && rng.chance(15) {
                    // Dropped: closed before a byte is read.
                    st.refused.fetch_add(1, Ordering::Relaxed);
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                // A cut: after a random number of bytes in one direction, both ends
                // are shut, mid-request or mid-answer.
                let budget = (flaky && rng.chance(35)).then(|| rng.next() % 40_000);
                let delay = if flaky { rng.next() % 30 } else { 0 };
                let seed = rng.next();
                let st = st.clone();
                std::thread::spawn(move || pipe(client, server, budget, delay, seed, st));
            }
        });
        FlakyProxy {
            url: format!("http://{addr}"),
            flaky,
            stop,
            stats,
            addr,
        }
    }

    /// Starts misbehaving (new connections only).
    pub fn break_network(&self) {
        self.flaky.store(true, Ordering::SeqCst);
    }

    /// Forwards faithfully from now on (new connections only).
    pub fn heal(&self) {
        self.flaky.store(false, Ordering::SeqCst);
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copies both ways until either side closes; `budget` bytes (client → server and back,
/// counted together) before the connection is cut; `delay_ms` before each chunk.
fn pipe(
    client: TcpStream,
    server: TcpStream,
    budget: Option<u64>,
    delay_ms: u64,
    seed: u64,
    stats: Arc<ProxyStats>,
) {
    let used = Arc::new(AtomicU64::new(0));
    let copy = |mut from: TcpStream, mut to: TcpStream, used: Arc<AtomicU64>, seed: u64| {
        let stats = stats.clone();
        move || {
            let mut rng = Rng(seed | 1);
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if delay_ms > 0 {
                    std::thread::sleep(Duration::from_millis(rng.next() % (delay_ms + 1)));
                }
                let before = used.fetch_add(n as u64, Ordering::SeqCst);
                if let Some(b) = budget
                    && before + n as u64 > b
                {
                    let keep = b.saturating_sub(before) as usize;
                    let _ = to.write_all(&buf[..keep]);
                    stats.cut.fetch_add(1, Ordering::Relaxed);
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        }
    };
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(copy(client, s2, used.clone(), seed));
    let down = std::thread::spawn(copy(server, c2, used, seed.rotate_left(17)));
    let _ = up.join();
    let _ = down.join();
}
