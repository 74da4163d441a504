//! A real S3 API server (moto, from the test virtual environment) on loopback, and a small
//! fault-injecting HTTP proxy to put in front of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Finds the `moto_server` of the test venv (scripts/test.sh creates it).
pub fn moto_server_bin() -> PathBuf {
    let venv = std::env::var("SCIML_DATA_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv")));
    let bin = venv.join("bin/moto_server");
    assert!(
        bin.exists(),
        "{} is missing: run `bash scripts/test.sh` once (it installs moto[server] into .venv)",
        bin.display()
    );
    bin
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server on port {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A moto S3 server, killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new(moto_server_bin())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start moto_server");
        wait_for_port(port);
        Moto { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto accepts an unsigned PUT).
    pub fn create_bucket(&self, name: &str) {
        let resp = http(self.port, "PUT", &format!("/{name}"), &[], b"");
        assert!(
            resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
            "{resp}"
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP/1.1 request with `Connection: close`; returns the whole response as text.
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).to_string()
}

/// Faults the proxy injects.
#[derive(Debug, Default)]
pub struct Faults {
    /// Drop `If-None-Match` from requests (a store that ignores conditional writes).
    pub strip_if_none_match: AtomicBool,
    /// Answer a PUT's 409 Conflict or 412 Precondition Failed with 201 Created, as a store that
    /// ignores conditional writes would (where a request signature covers If-None-Match, as
    /// Azure's shared key does, dropping the header is not possible).
    pub conflicts_as_created: AtomicBool,
    /// Answer this many requests with 503 before forwarding any.
    pub fail_next: AtomicUsize,
    /// Flip one byte in the body of this many GET responses whose body is larger than 64 bytes.
    pub corrupt_next_gets: AtomicUsize,
    /// Flip one byte in the body of this many PUT requests whose body is larger than 4 KiB
    /// (payload objects, not claims or probes: damage on the way to the server).
    pub corrupt_next_puts: AtomicUsize,
    /// Close the connection mid-body on this many GET responses.
    pub truncate_next_gets: AtomicUsize,
    /// Delay every response by this many milliseconds.
    pub delay_ms: AtomicUsize,
    /// Requests seen, as "METHOD path".
    pub log: Mutex<Vec<String>>,
}

/// A loopback proxy in front of `upstream_port`; stops when dropped.
pub struct Proxy {
    pub port: u16,
    pub faults: Arc<Faults>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let faults = Arc::new(Faults::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (f, st) = (faults.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let f = f.clone();
                        std::thread::spawn(move || {
                            let _ = handle(conn, upstream_port, &f);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { port, faults, stop }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.faults.log.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one HTTP message head + Content-Length body from `s`.
fn read_message(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut tmp)?;
        if n == 0 {
            return Err(std::io::Error::other("eof before head"));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut tmp)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Ok((head, body))
}

fn handle(mut client: TcpStream, upstream: u16, f: &Faults) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    {
        let (head, body) = match read_message(&mut client) {
            Ok(m) => m,
            Err(_) => return Ok(()),
        };
        let request_line = head.lines().next().unwrap_or("").to_string();
        let method = request_line.split(' ').next().unwrap_or("").to_string();
        f.log.lock().unwrap().push(
            request_line
                .rsplit_once(' ')
                .map(|(a, _)| a.to_string())
                .unwrap_or_default(),
        );
        let delay = f.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay as u64));
        }
        if f.fail_next.load(Ordering::Relaxed) > 0 {
            f.fail_next.fetch_sub(1, Ordering::Relaxed);
            client.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
            return Ok(());
        }
        // Forward with the connection closed after one exchange.
        let mut out = String::new();
        for (i, line) in head.trim_end().lines().enumerate() {
            if i > 0 {
                let name = line
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if name == "connection"
                    || (name == "if-none-match" && f.strip_if_none_match.load(Ordering::Relaxed))
                {
                    continue;
                }
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str("Connection: close\r\n\r\n");
        let mut body = body;
        if method == "PUT" && body.len() > 4096 && f.corrupt_next_puts.load(Ordering::Relaxed) > 0 {
            f.corrupt_next_puts.fetch_sub(1, Ordering::Relaxed);
            let mid = body.len() / 2;
            body[mid] ^= 0x20;
        }
        let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
        up.write_all(out.as_bytes())?;
        up.write_all(&body)?;
        let mut resp = Vec::new();
        up.read_to_end(&mut resp)?;
        let head_end = find(&resp, b"\r\n\r\n")
            .map(|i| i + 4)
            .unwrap_or(resp.len());
        let (rhead, rbody) = resp.split_at(head_end);
        let mut rhead = String::from_utf8_lossy(rhead).to_string();
        let mut drop_body = false;
        if method == "PUT"
            && f.conflicts_as_created.load(Ordering::Relaxed)
            && (rhead.starts_with("HTTP/1.1 409") || rhead.starts_with("HTTP/1.1 412"))
        {
            let rest = rhead.split_once("\r\n").map(|(_, r)| r).unwrap_or("");
            let rest: Vec<&str> = rest
                .split("\r\n")
                .filter(|l| {
                    let l = l.to_ascii_lowercase();
                    !l.starts_with("content-length") && !l.starts_with("transfer-encoding")
                })
                .collect();
            rhead = format!(
                "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n{}",
                rest.join("\r\n")
            );
            drop_body = true;
        }
        let mut rbody = if drop_body {
            Vec::new()
        } else {
            rbody.to_vec()
        };
        if method == "GET" && rbody.len() > 64 && f.corrupt_next_gets.load(Ordering::Relaxed) > 0 {
            f.corrupt_next_gets.fetch_sub(1, Ordering::Relaxed);
            let mid = rbody.len() / 2;
            rbody[mid] ^= 0x20;
        }
        if method == "GET" && rbody.len() > 64 && f.truncate_next_gets.load(Ordering::Relaxed) > 0 {
            f.truncate_next_gets.fetch_sub(1, Ordering::Relaxed);
            client.write_all(rhead.as_bytes())?;
            client.write_all(&rbody[..rbody.len() / 2])?;
            return Ok(());
        }
        client.write_all(rhead.as_bytes())?;
        client.write_all(&rbody)?;
        Ok(())
    }
}
