//! `cloudlet up`: health, the data-dir lock, crash recovery, address
//! conflicts and clean shutdown.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::*;

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|err| panic!("not JSON ({err}): {body}"))
}

fn wait_healthy(daemon: &Daemon) -> Duration {
    let began = Instant::now();
    loop {
        if let Ok(response) = http::get(daemon.addr, "/_cloudlet/health") {
            assert_eq!(response.status, 200, "{}", response.body);
            return began.elapsed();
        }
        assert!(began.elapsed() < Duration::from_secs(2), "not healthy within 2 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn health_answers_within_two_seconds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let began = Instant::now();
    let daemon = Daemon::start(dir.path());
    wait_healthy(&daemon);
    assert!(began.elapsed() < Duration::from_secs(2), "took {:?}", began.elapsed());

    let response = http::get(daemon.addr, "/_cloudlet/health").expect("health");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let health = json(&response.body);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));

    assert!(daemon.banner.contains(&format!("http://{}/_cloudlet/health", daemon.addr)), "{}", daemon.banner);
    assert!(daemon.banner.contains(&dir.path().display().to_string()), "{}", daemon.banner);
}

#[test]
fn unknown_routes_get_a_json_404_naming_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(dir.path());
    let response = http::get(daemon.addr, "/no/such/thing?x=1").expect("request");
    assert_eq!(response.status, 404);
    let body = json(&response.body);
    assert_eq!(body["path"], "/no/such/thing");
    assert_eq!(body["message"], "cloudlet has no API at GET /no/such/thing");

    let response =
        http::request(daemon.addr, "POST", "/", &[("X-Amz-Target", "AmazonNoSuchService.List")]).expect("request");
    assert_eq!(response.status, 404);
    let body = json(&response.body);
    assert_eq!(body["target"], "AmazonNoSuchService.List");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("AmazonNoSuchService.List")), "{body}");
}

#[test]
fn metrics_are_prometheus_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(dir.path());
    wait_healthy(&daemon);
    let response = http::get(daemon.addr, "/metrics").expect("metrics");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert!(response.body.contains("# TYPE cloudlet_http_requests_total counter"), "{}", response.body);
    assert!(
        response.body.contains(r#"cloudlet_http_requests_total{api="cloudlet",status="200"} 1"#),
        "{}",
        response.body
    );
    assert!(response.body.contains(&format!(r#"cloudlet_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION"))));
}

#[test]
fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Daemon::start(dir.path());
    let output = cloudlet()
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .expect("run second daemon");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lock_file = dir.path().join("cloudlet.lock");
    assert!(stderr.contains(&format!("pid {}", first.pid())), "{stderr}");
    assert!(stderr.contains(&lock_file.display().to_string()), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    // The refused daemon must not have disturbed the first one.
    assert_eq!(http::get(first.addr, "/_cloudlet/health").expect("health").status, 200);
}

#[test]
fn after_kill_9_a_new_daemon_starts_and_finds_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = Daemon::start(dir.path());
    wait_healthy(&first);
    let before = json(&http::get(first.addr, "/_cloudlet/info").expect("info").body);
    assert_eq!(before["store"]["starts"], 1);
    first.signal("KILL");
    first.wait_exit(Duration::from_secs(5));

    let second = Daemon::start(dir.path());
    wait_healthy(&second);
    let after = json(&http::get(second.addr, "/_cloudlet/info").expect("info").body);
    assert_eq!(after["store"]["id"], before["store"]["id"], "the store was not found again");
    assert_eq!(after["store"]["created_at"], before["store"]["created_at"]);
    assert_eq!(after["store"]["starts"], 2, "the first start's record was lost");
    assert_eq!(after["pid"], second.pid());
    assert!(second.banner.contains("start 2 of this store"), "{}", second.banner);
}

#[test]
fn a_taken_address_is_refused_by_name() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let output = cloudlet().args(["up", "--listen", &addr, "--data-dir"]).arg(dir.path()).output().expect("run daemon");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    // It released the data dir on the way out.
    let daemon = Daemon::start(dir.path());
    wait_healthy(&daemon);
}

#[test]
fn sigterm_and_sigint_stop_the_daemon_cleanly() {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut daemon = Daemon::start(dir.path());
        wait_healthy(&daemon);
        let began = Instant::now();
        daemon.signal(signal);
        let status = daemon.wait_exit(Duration::from_secs(5));
        assert_eq!(status.code(), Some(0), "SIG{signal} exit status");
        assert!(began.elapsed() < Duration::from_secs(5));
        // The store was closed: the WAL was checkpointed into the database.
        let wal = dir.path().join("cloudlet.db-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(wal_len, 0, "SIG{signal}: WAL not checkpointed");
        // And the lock is free again.
        let again = Daemon::start(dir.path());
        wait_healthy(&again);
    }
}

#[test]
fn data_dir_comes_from_the_environment_then_xdg() {
    let env_dir = tempfile::tempdir().expect("tempdir");
    let mut child = cloudlet()
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("CLOUDLET_DATA_DIR", env_dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let lock = env_dir.path().join("cloudlet.lock");
    let began = Instant::now();
    while !lock.exists() {
        assert!(began.elapsed() < Duration::from_secs(2), "no lock in CLOUDLET_DATA_DIR");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();

    let xdg = tempfile::tempdir().expect("tempdir");
    let mut child = cloudlet()
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("XDG_DATA_HOME", xdg.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let lock = xdg.path().join("cloudlet").join("cloudlet.lock");
    let began = Instant::now();
    while !lock.exists() {
        assert!(began.elapsed() < Duration::from_secs(2), "no lock under XDG_DATA_HOME/cloudlet");
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}
