//! A real PostgreSQL for the tests: one cluster per test process, a fresh database per test.
//!
//! `ZAVU_TEST_POSTGRES_URL` (CI, or a developer's own server) is used as it is and nothing
//! is started. Otherwise the first test that asks runs `initdb` into
//! `temp_dir()/zavu-pg-<pid>` and the server in the foreground on a free loopback port, as the
//! `postgres` user when the tests run as root (initdb refuses root). The server is a child
//! of a thread that lives as long as it does, with a parent-death signal, so a killed test
//! run leaves no server behind; data directories of test runs that are gone are swept at
//! the next start. With neither the URL nor the binaries, every Postgres test fails with
//! the reason and how to fix it — never a silent skip.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const HOW_TO_FIX: &str = "install Debian's postgresql (tests/setup.sh, or apt-get install -y \
     postgresql), point ZAVU_PG_BIN at a directory holding initdb and postgres, or point \
     ZAVU_TEST_POSTGRES_URL at a server the tests may create databases on";

static CLUSTER: OnceLock<Result<String, String>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The URL of the cluster's maintenance database (`postgres`), starting the cluster on
/// first use; panics with the reason when there is no Postgres to be had.
pub fn cluster_url() -> String {
    match CLUSTER.get_or_init(start_or_reuse) {
        Ok(url) => url.clone(),
        Err(why) => panic!("PostgreSQL for the tests: {why}"),
    }
}

/// A new, empty database on the test cluster, and its URL.
pub async fn database() -> String {
    let admin = tokio::task::spawn_blocking(cluster_url)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to the test cluster at {admin}: {e}"));
    let conn = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    drop(client);
    let _ = conn.await;
    let mut url = url::Url::parse(&admin).expect("the cluster URL parses");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn start_or_reuse() -> Result<String, String> {
    if let Ok(url) = std::env::var("ZAVU_TEST_POSTGRES_URL")
        && !url.trim().is_empty()
    {
        return Ok(url);
    }
    let bin = binaries()?;
    sweep_leftovers();
    let dir = std::env::temp_dir().join(format!("zavu-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let owner = server_user()?;
    if let Some((uid, gid)) = owner {
        chown(&dir, uid, gid)?;
    }
    let as_owner = |program: &str| {
        let mut c = Command::new(bin.join(program));
        if let Some((uid, gid)) = owner {
            c.uid(uid).gid(gid);
        }
        c
    };

    let data = dir.join("data");
    let out = as_owner("initdb")
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "zavu",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ])
        .output()
        .map_err(|e| format!("cannot run {}/initdb: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }

    let port = free_port()?;
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("server.log: {e}"))?;
    if let Some((uid, gid)) = owner {
        chown(&log_path, uid, gid)?;
    }
    let mut server = as_owner("postgres");
    server
        .arg("-D")
        .arg(&data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(&dir)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    // SAFETY: prctl is async-signal-safe; it only sets this child's parent-death signal.
    unsafe {
        server.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // The parent-death signal belongs to the thread that forked: it must outlive the
    // server, so it spawns it and then waits on it for the rest of the test run.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("postgres".into())
        .spawn(move || match server.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(()));
                let _ = child.wait();
            }
            Err(e) => {
                let _ = tx.send(Err(format!("cannot start the postgres server: {e}")));
            }
        })
        .map_err(|e| e.to_string())?;
    rx.recv().map_err(|e| e.to_string())??;

    let started = Instant::now();
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ready {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!(
                "the server did not accept connections within 30 s; {}:\n{log}",
                log_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(format!("postgres://zavu@127.0.0.1:{port}/postgres"))
}

/// `$ZAVU_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin` that has an `initdb`.
fn binaries() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("ZAVU_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(format!(
                "ZAVU_PG_BIN={} has no initdb; {HOW_TO_FIX}",
                dir.display()
            ))
        };
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        format!("no ZAVU_TEST_POSTGRES_URL and no /usr/lib/postgresql/*/bin/initdb; {HOW_TO_FIX}")
    })
}

/// As root, the `postgres` system user's (uid, gid); otherwise none (run as ourselves).
fn server_user() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = std::ffi::CString::new("postgres").expect("no NUL");
    // SAFETY: getpwnam returns null or a pointer into static storage, read at once; the
    // test helper is the only caller and runs once per process.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(format!(
            "running as root and there is no `postgres` user to run the server as; {HOW_TO_FIX}"
        ));
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some((uid, gid)))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| format!("chown {}: {e}", path.display()))
}

fn free_port() -> Result<u16, String> {
    let sock = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    sock.local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Data directories of earlier test runs whose process is gone.
fn sweep_leftovers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("zavu-pg-") else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
