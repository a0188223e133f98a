//! SQS throughput and latency over HTTP (JSON 1.0 protocol, keep-alive
//! connections), against `cloudlet up` and, in the same run, moto server
//! when `moto_server` is on PATH (or named by `CLOUDLET_BENCH_MOTO`).
//! Run with `bench/sqs` (see bench/README.md).
//!
//! Phases, each on a fresh queue, 100-byte bodies:
//! - `send`: SendMessage from one connection, for a fixed time (p50/p99);
//! - `send-batch`: SendMessageBatch of 10 from `THREADS` connections;
//! - `receive+delete`: ReceiveMessage (10) + DeleteMessageBatch from
//!   `THREADS` connections until the send-batch queue is empty.
//!
//! Every cloudlet send is acknowledged only after it is on disk
//! (`synchronous=FULL`); moto keeps everything in memory.
//!
//! With `CLOUDLET_BENCH_DEPTH=N` it instead fills one cloudlet queue to N
//! messages and drains it, printing the rate of each tenth of the way.

#[path = "support/daemon.rs"]
mod daemon;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const THREADS: usize = 4;
/// moto tells services apart by the credential scope of the signature; it
/// does not check the signature itself (nor does cloudlet).
const AUTHORIZATION: &str = "Authorization: AWS4-HMAC-SHA256 \
     Credential=testing/20240101/us-east-1/sqs/aws4_request, \
     SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000";

use daemon::start_cloudlet;

fn main() {
    let seconds = std::env::var("CLOUDLET_BENCH_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let phase = Duration::from_secs(seconds);
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut cloudlet, addr) = start_cloudlet(dir.path());
    if let Some(depth) = std::env::var("CLOUDLET_BENCH_DEPTH").ok().and_then(|v| v.parse().ok()) {
        depth_profile(addr, depth);
        stop(&mut cloudlet);
        return;
    }
    let mut rows = vec![run_phases("cloudlet", addr, phase)];
    stop(&mut cloudlet);
    if let Some((mut moto, addr)) = start_moto() {
        rows.push(run_phases("moto", addr, phase));
        stop(&mut moto);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "SQS over HTTP, {THREADS} connections for batch phases, {seconds} s per timed phase");
    let _ = writeln!(
        out,
        "{:<10} {:<16} {:>12} {:>10} {:>10} {:>9}",
        "target", "phase", "messages/s", "p50 ms", "p99 ms", "messages"
    );
    for results in &rows {
        for r in results {
            let _ = writeln!(
                out,
                "{:<10} {:<16} {:>12.0} {:>10.2} {:>10.2} {:>9}",
                r.target, r.phase, r.rate, r.p50_ms, r.p99_ms, r.messages
            );
        }
    }
    if let [ours, moto] = rows.as_slice() {
        for (a, b) in ours.iter().zip(moto) {
            let _ =
                writeln!(out, "ratio {:<16} cloudlet/moto = {:.0}x", a.phase, a.rate / b.rate.max(f64::MIN_POSITIVE));
        }
    }
}

struct PhaseResult {
    target: &'static str,
    phase: &'static str,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    messages: u64,
}

fn run_phases(target: &'static str, addr: SocketAddr, phase: Duration) -> Vec<PhaseResult> {
    let mut conn = Conn::new(addr);
    let suffix = std::process::id();
    let body = "x".repeat(100);

    let url = create(&mut conn, &format!("bench-send-{suffix}"));
    let mut latencies = Vec::new();
    let began = Instant::now();
    while began.elapsed() < phase {
        let t = Instant::now();
        conn.call("SendMessage", &json!({ "QueueUrl": url, "MessageBody": body }));
        latencies.push(t.elapsed());
    }
    let single = summarise(target, "send", latencies.len() as u64, began.elapsed(), latencies);

    let url = create(&mut conn, &format!("bench-batch-{suffix}"));
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let began = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (url, body, sent, stop) = (url.clone(), body.clone(), Arc::clone(&sent), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut conn = Conn::new(addr);
                let mut latencies = Vec::new();
                let entries: Vec<Value> =
                    (0..10).map(|i| json!({ "Id": i.to_string(), "MessageBody": body })).collect();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    conn.call("SendMessageBatch", &json!({ "QueueUrl": url, "Entries": entries }));
                    latencies.push(t.elapsed());
                    sent.fetch_add(10, Ordering::Relaxed);
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(phase);
    stop.store(true, Ordering::Relaxed);
    let latencies: Vec<Duration> = workers.into_iter().flat_map(|w| w.join().expect("sender")).collect();
    let total = sent.load(Ordering::Relaxed);
    let batch = summarise(target, "send-batch", total, began.elapsed(), latencies);

    let received = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (url, received) = (url.clone(), Arc::clone(&received));
            std::thread::spawn(move || {
                let mut conn = Conn::new(addr);
                let mut latencies = Vec::new();
                loop {
                    let t = Instant::now();
                    let n = receive_and_delete(&mut conn, &url);
                    if n == 0 {
                        break;
                    }
                    latencies.push(t.elapsed());
                    received.fetch_add(n, Ordering::Relaxed);
                }
                latencies
            })
        })
        .collect();
    let latencies: Vec<Duration> = workers.into_iter().flat_map(|w| w.join().expect("receiver")).collect();
    let drained = summarise(target, "receive+delete", received.load(Ordering::Relaxed), began.elapsed(), latencies);
    vec![single, batch, drained]
}

/// Fills one queue to `depth` messages with SendMessageBatch, then drains
/// it with ReceiveMessage + DeleteMessageBatch, `THREADS` connections each,
/// and prints the rate of every tenth of the way: flat rows mean the cost of
/// an operation does not grow with the queue.
fn depth_profile(addr: SocketAddr, depth: u64) {
    let mut conn = Conn::new(addr);
    let url = create(&mut conn, &format!("bench-depth-{}", std::process::id()));
    let body = "x".repeat(100);
    let step = (depth / 10).max(10);
    let sent = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..THREADS)
        .map(|_| {
            let (url, body, sent) = (url.clone(), body.clone(), Arc::clone(&sent));
            std::thread::spawn(move || {
                let mut conn = Conn::new(addr);
                let entries: Vec<Value> =
                    (0..10).map(|i| json!({ "Id": i.to_string(), "MessageBody": body })).collect();
                while sent.fetch_add(10, Ordering::Relaxed) + 10 <= depth {
                    conn.call("SendMessageBatch", &json!({ "QueueUrl": url, "Entries": entries }));
                }
            })
        })
        .collect();
    let fill = segment_times(&sent, depth, step);
    for sender in senders {
        sender.join().expect("sender");
    }
    let done = Arc::new(AtomicU64::new(0));
    let receivers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (url, done) = (url.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut conn = Conn::new(addr);
                loop {
                    let n = receive_and_delete(&mut conn, &url);
                    if n == 0 {
                        break;
                    }
                    done.fetch_add(n, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let drain = segment_times(&done, depth, step);
    for receiver in receivers {
        receiver.join().expect("receiver");
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "SQS depth profile, {depth} messages, {THREADS} connections, 100-byte bodies");
    let _ = writeln!(out, "{:>20} {:>16} {:>22}", "messages", "send-batch /s", "receive+delete /s");
    for (k, (fill, drain)) in fill.iter().zip(&drain).enumerate() {
        let from = k as u64 * step;
        let _ = writeln!(
            out,
            "{:>9}-{:<10} {:>16.0} {:>22.0}",
            from,
            from + step,
            step as f64 / fill.as_secs_f64(),
            step as f64 / drain.as_secs_f64()
        );
    }
}

/// One ReceiveMessage (up to 10) and a DeleteMessageBatch of what came;
/// how many messages that was (0: the queue looked empty).
fn receive_and_delete(conn: &mut Conn, url: &str) -> u64 {
    let out = conn.call("ReceiveMessage", &json!({ "QueueUrl": url, "MaxNumberOfMessages": 10 }));
    let messages = out["Messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        return 0;
    }
    let entries: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({ "Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"] }))
        .collect();
    conn.call("DeleteMessageBatch", &json!({ "QueueUrl": url, "Entries": entries }));
    messages.len() as u64
}

/// How long each `step` of `counter`'s way to `total` took.
fn segment_times(counter: &AtomicU64, total: u64, step: u64) -> Vec<Duration> {
    let mut times = Vec::new();
    let mut last = Instant::now();
    let mut next = step;
    while next <= total {
        if counter.load(Ordering::Relaxed) >= next {
            let now = Instant::now();
            times.push(now - last);
            last = now;
            next += step;
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    times
}

fn summarise(
    target: &'static str,
    phase: &'static str,
    messages: u64,
    elapsed: Duration,
    mut latencies: Vec<Duration>,
) -> PhaseResult {
    latencies.sort();
    let at = |q: usize| latencies.get((latencies.len() * q / 100).min(latencies.len().saturating_sub(1)));
    PhaseResult {
        target,
        phase,
        rate: messages as f64 / elapsed.as_secs_f64(),
        p50_ms: at(50).map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        p99_ms: at(99).map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        messages,
    }
}

fn create(conn: &mut Conn, name: &str) -> String {
    let out = conn.call("CreateQueue", &json!({ "QueueName": name }));
    out["QueueUrl"].as_str().expect("QueueUrl").to_owned()
}

/// One keep-alive HTTP/1.1 connection; it reconnects when the server
/// closes (moto's server closes after every response).
struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, stream: None }
    }

    fn call(&mut self, operation: &str, input: &Value) -> Value {
        let body = input.to_string();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\n\
             X-Amz-Target: AmazonSQS.{operation}\r\nX-Amz-Date: 20240101T000000Z\r\n{AUTHORIZATION}\r\n\
             Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let stream = self.stream.get_or_insert_with(|| {
            let stream = TcpStream::connect(self.addr).expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            BufReader::new(stream)
        });
        let inner = stream.get_mut();
        inner.write_all(head.as_bytes()).expect("write");
        inner.write_all(body.as_bytes()).expect("write");
        let mut status_line = String::new();
        stream.read_line(&mut status_line).expect("status line");
        let mut length = 0;
        let mut close = false;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().expect("content-length"),
                "connection" => close = value.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut response = vec![0; length];
        stream.read_exact(&mut response).expect("body");
        if close {
            self.stream = None;
        }
        assert!(status_line.contains(" 200 "), "{operation}: {status_line} {}", String::from_utf8_lossy(&response));
        serde_json::from_slice(&response)
            .unwrap_or_else(|err| panic!("{operation}: {err}: {}", String::from_utf8_lossy(&response)))
    }
}

/// moto server on a free port, once it answers; `None` if it is not
/// installed.
fn start_moto() -> Option<(Child, SocketAddr)> {
    let program = std::env::var("CLOUDLET_BENCH_MOTO").unwrap_or_else(|_| "moto_server".to_owned());
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
    let began = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if began.elapsed() > Duration::from_secs(20) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((child, addr))
}

fn stop(child: &mut Child) {
    // SIGTERM, as a service manager would.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}
