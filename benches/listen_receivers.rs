//! `zavu-script listen` next to a minimal Python receiver (`bench/webhook_receiver.py`),
//! by hand:
//!
//!     cargo bench --bench listen_receivers [-- EVENTS LATENCY_SAMPLES]
//!
//! For each receiver — `listen` with one handler worker (the default), `listen` with one
//! per core (`--concurrency`), Python — against a sandbox in this process:
//! - **events/s**: EVENTS (20,000) distinct, freshly signed deliveries posted over 32
//!   keep-alive connections; the time until every one is answered 2xx, and until every
//!   handler line (`ran:<invitation>`) has been written — for `listen` that is recorded in
//!   the inbox, run by the handler script (`print("ran:" + …)`) and marked done.
//! - **latency**: LATENCY_SAMPLES (200) times, one at a time, an invitation completed through
//!   the sandbox's control plane, and the time until the receiver's first handler line for
//!   it is read from its output: the sandbox's own signed delivery, verification, recording
//!   and the handler start are all inside it. Median and p99.
//! - **receiving alone**: `listen` again, its handler held in its first run (a `sleep`) for
//!   the whole send, so recording and answering have the machine to themselves: acked
//!   events/s, the most this machine lets any handler keep up with.
//! - **CPU per event** over the events/s run, from `/proc`: the receiver's, split by its
//!   threads' names (for `listen`: the handler's thread, the inbox's writer, the log's
//!   writer, HTTP and the rest), and this process's own (the sender). Beside it, what the
//!   whole machine has per event at 10× Python's rate: every core, shared by the receiver
//!   and the sender, as they share it here.
//!
//! `listen` is the release binary next to this bench (or `$LISTEN_BIN`), with
//! `--register self`; Python is
//! `python3` (or `$PYTHON`), standard library only.

use futures::StreamExt;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use zavu_script::api::CreateInvitation;
use zavu_script::api::webhook::sign;
use zavu_script::client::{ApiClient, ApiKey, ClientOptions};
use zavu_script::sandbox::{Sandbox, SandboxOptions};

const KEY: &str = "zv_test_sandbox";
const CONCURRENCY: usize = 32;
const PATIENCE: Duration = Duration::from_secs(300);
/// As the sandbox: attempts per delivery, and how long one waits for its answer.
const ATTEMPTS: usize = 5;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A line of a receiver's output, with when it was read.
type Line = (Instant, String);

/// A receiver process's output, line by line.
#[derive(Clone, Default)]
struct Lines {
    seen: Arc<(Mutex<Vec<Line>>, Condvar)>,
    /// When each handler line (`ran:`) was read, counted as it is read: waiting for the
    /// last one must not mean scanning every line again on each new one, which would hold
    /// up the reader and, through a full pipe, the receiver writing them.
    ran: Arc<Mutex<Vec<Instant>>>,
}

impl Lines {
    fn follow(&self, out: impl std::io::Read + Send + 'static) {
        let (seen, ran) = (self.seen.clone(), self.ran.clone());
        std::thread::spawn(move || {
            let echo = std::env::var_os("BENCH_ECHO").is_some_and(|v| !v.is_empty());
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("{line}");
                }
                let at = Instant::now();
                if line.contains("ran:") {
                    ran.lock().unwrap().push(at);
                }
                let (lock, cv) = &*seen;
                lock.lock().unwrap().push((at, line));
                cv.notify_all();
            }
        });
    }

    /// Handler lines read so far.
    fn ran(&self) -> usize {
        self.ran.lock().unwrap().len()
    }

    /// Waits for the `n`th handler line; when it was read.
    fn wait_ran(&self, n: usize) -> Instant {
        let ran = self.ran.clone();
        self.wait(&format!("handler line {n}"), |_| {
            ran.lock().unwrap().get(n - 1).copied()
        })
    }

    /// Waits until `pred` holds for the lines read so far; gives its answer.
    fn wait<T>(&self, what: &str, mut pred: impl FnMut(&[Line]) -> Option<T>) -> T {
        let (lock, cv) = &*self.seen;
        let start = Instant::now();
        let mut seen = lock.lock().unwrap();
        loop {
            if let Some(v) = pred(&seen) {
                return v;
            }
            assert!(start.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what}");
            seen = cv.wait_timeout(seen, Duration::from_millis(100)).unwrap().0;
        }
    }
}

struct Figures {
    acked: Duration,
    /// CPU spent over the events/s run, per event: the receiver's by thread kind, then
    /// the sender's.
    cpu: Cpu,
    handled: Duration,
    latencies: Vec<Duration>,
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(20_000);
    let samples = args.get(1).copied().unwrap_or(200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = rt
        .block_on(Sandbox::start(SandboxOptions::default()))
        .expect("sandbox");
    let base = sandbox.base_url().to_string();
    let client = ApiClient::new(ClientOptions::new(&base, ApiKey::new(KEY))).expect("client");
    println!(
        "{events} events over {CONCURRENCY} connections; {samples} latency samples; sandbox {base}"
    );

    let bench = Bench {
        rt: &rt,
        client: &client,
        base: &base,
        events,
        samples,
    };
    // zavu-script listen, trivial handler: one worker (the default), then one per core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut runs = vec![];
    for workers in [1, cores] {
        let state = tempfile::tempdir().expect("temp dir");
        let (mut listen, lines, url) = start_listen(
            &base,
            state.path(),
            "print(\"ran:\" + event.data.invitationId);\n",
            workers,
        );
        let secret = rt.block_on(client.get_webhook()).expect("webhook").secret;
        let tag = format!("zs{workers}_");
        let figures = measure(&bench, &url, &secret, &lines, &tag, listen.id());
        stop(&mut listen);
        let name = match workers {
            1 => "zavu-script listen".to_string(),
            n => format!("zavu-script listen --concurrency {n}"),
        };
        runs.push((name, figures));
    }

    // Receiving alone: listen again, its handler held in its first run for the whole
    // send, so recording and answering have the machine to themselves (with the sender).
    let held = tempfile::tempdir().expect("temp dir");
    let (mut listen, lines, url) = start_listen(&base, held.path(), "sleep(3600);\n", 1);
    let secret = rt.block_on(client.get_webhook()).expect("webhook").secret;
    let (_, alone) = send_all(&rt, &url, &secret, events, "alone", || {});
    stop(&mut listen);
    drop(lines);

    // The Python receiver.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/webhooks/zavu");
    let secret = rt
        .block_on(client.configure_webhook(&url, None))
        .expect("webhook")
        .secret;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/webhook_receiver.py");
    let mut python = Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .args([script, &port.to_string(), &secret])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 starts");
    let lines = Lines::default();
    lines.follow(python.stdout.take().unwrap());
    lines.wait("the Python receiver to start", |seen| {
        seen.iter().any(|(_, l)| l == "ready").then_some(())
    });
    let py = measure(&bench, &url, &secret, &lines, "py", python.id());
    stop(&mut python);

    println!();
    println!("| receiver | acked events/s | handled events/s | latency median | latency p99 |");
    println!("|---|---|---|---|---|");
    let python = ("Python http.server".to_string(), py);
    let receivers: Vec<&(String, Figures)> = runs.iter().chain([&python]).collect();
    let py = &python.1;
    for (name, f) in &receivers {
        println!(
            "| {name} | {:.0} | {:.0} | {:.1} ms | {:.1} ms |",
            events as f64 / f.acked.as_secs_f64(),
            events as f64 / f.handled.as_secs_f64(),
            ms(percentile(&f.latencies, 50)),
            ms(percentile(&f.latencies, 99)),
        );
    }
    for (name, f) in &runs {
        println!(
            "{name} / Python, handled events/s: {:.1}×",
            py.handled.as_secs_f64() / f.handled.as_secs_f64()
        );
    }
    println!(
        "listen receiving alone (its handler held on the first event): {:.0} acked events/s, \
         {:.1}× Python's handled events/s",
        events as f64 / alone.as_secs_f64(),
        py.handled.as_secs_f64() / alone.as_secs_f64()
    );
    println!();
    println!("CPU per event over the events/s run (µs):");
    println!("| receiver | receiver total | by thread | sender (this bench) |");
    println!("|---|---|---|---|");
    for (name, f) in &receivers {
        let threads: Vec<String> = f
            .cpu
            .receiver
            .iter()
            .filter(|(_, us)| *us >= 0.5)
            .map(|(k, us)| format!("{k} {us:.0}"))
            .collect();
        println!(
            "| {name} | {:.0} | {} | {:.0} |",
            f.cpu.receiver_total(),
            threads.join(", "),
            f.cpu.sender
        );
    }
    let tenfold = 10.0 * events as f64 / py.handled.as_secs_f64();
    println!(
        "At 10× Python's rate ({tenfold:.0} events/s) this machine's {cores} cores give \
         {:.0} µs of CPU per event, for the receiver and the sender together.",
        cores as f64 * 1e6 / tenfold
    );
    drop(sandbox);
}

/// What every receiver is measured with: the runtime, the sandbox (and a client of it),
/// how many deliveries to send and how many latency samples to take.
struct Bench<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: &'a ApiClient,
    base: &'a str,
    events: usize,
    samples: usize,
}

/// A receiver at `url` (its secret, its output, its process id `receiver`), measured.
fn measure(
    bench: &Bench<'_>,
    url: &str,
    secret: &str,
    lines: &Lines,
    tag: &str,
    receiver: u32,
) -> Figures {
    let Bench {
        rt,
        client,
        base,
        events,
        samples,
    } = *bench;
    let before = lines.ran();
    let mut cpu_before = None;
    let (start, acked) = send_all(rt, url, secret, events, tag, || {
        cpu_before = Some((threads_cpu(receiver), own_cpu()));
    });
    let (receiver_before, sender_before) = cpu_before.unwrap_or_default();
    let handled = lines.wait_ran(before + events) - start;
    let cpu = Cpu::between(
        &receiver_before,
        &threads_cpu(receiver),
        own_cpu() - sender_before,
        events,
    );

    // Latency: one status change at a time, through the sandbox's own delivery.
    let http = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = rt
            .block_on(client.create_invitation(&CreateInvitation {
                client_name: Some(format!("Latency {tag}{i}")),
                ..Default::default()
            }))
            .expect("invitation")
            .id;
        let needle = format!("ran:{id}");
        let t0 = Instant::now();
        let resp = rt
            .block_on(
                http.post(format!("{base}/_sandbox/invitations/{id}/complete"))
                    .bearer_auth(KEY)
                    .send(),
            )
            .expect("complete");
        assert!(resp.status().is_success());
        let at = lines.wait(&needle, |seen| {
            seen.iter()
                .rev()
                .find(|(_, l)| l.ends_with(&needle))
                .map(|(at, _)| *at)
        });
        latencies.push(at - t0);
    }
    Figures {
        acked,
        cpu,
        handled,
        latencies,
    }
}

/// Sends `events` distinct signed deliveries to `url` over CONCURRENCY connections and
/// returns when the clock started (`at_start` runs just before) and how long until every
/// one was answered 2xx.
fn send_all(
    rt: &tokio::runtime::Runtime,
    url: &str,
    secret: &str,
    events: usize,
    tag: &str,
    at_start: impl FnOnce(),
) -> (Instant, Duration) {
    // Throughput: distinct events, built and signed before the clock starts — the sender
    // is Zavu's servers, not the receiver's machine, so what it spends per delivery stays
    // out of the receiver's figures as far as one machine allows. A delivery sent again
    // is signed again, with the time it leaves.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let signed_at = chrono::Utc::now();
    let deliveries: Vec<(bytes::Bytes, String)> = (0..events)
        .map(|i| {
            let body = serde_json::json!({
                "id": format!("evt_{}_{tag}{i}", signed_at.timestamp_millis()),
                "type": "invitation.status_changed",
                "timestamp": signed_at.timestamp_millis() + (i / 8) as i64,
                "projectId": "prj_bench",
                "data": {"invitationId": format!("inv_{tag}{i}"), "clientName": "Bench",
                         "previousStatus": "pending", "currentStatus": "completed"}
            })
            .to_string();
            let signature = sign(secret, signed_at.timestamp(), body.as_bytes());
            (bytes::Bytes::from(body), signature)
        })
        .collect();
    at_start();
    let start = Instant::now();
    // Each delivery is sent as the sandbox sends it: re-signed and sent again (up to
    // ATTEMPTS times) after a non-2xx answer, a broken connection or no answer within
    // ATTEMPT_TIMEOUT. Every failed attempt is counted and shown with its reason; a
    // delivery that fails every attempt stops the bench.
    let failures = rt.block_on(async {
        futures::stream::iter(deliveries)
            .map(|(body, first_signature)| {
                let http = http.clone();
                async move {
                    let mut failed = vec![];
                    for attempt in 0..ATTEMPTS {
                        let signature = if attempt == 0 {
                            first_signature.clone()
                        } else {
                            sign(secret, chrono::Utc::now().timestamp(), &body)
                        };
                        let resp = http
                            .post(url)
                            .header("content-type", "application/json")
                            .header("X-Zavu-Signature", signature)
                            .body(body.clone())
                            .timeout(ATTEMPT_TIMEOUT)
                            .send()
                            .await;
                        match resp {
                            Ok(r) if r.status().is_success() => return (failed, true),
                            Ok(r) => failed.push(format!("HTTP {}", r.status())),
                            Err(e) => failed.push(format!("{e:?}")),
                        }
                    }
                    (failed, false)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .filter(|(failed, _)| std::future::ready(!failed.is_empty()))
            .collect::<Vec<(Vec<String>, bool)>>()
            .await
    });
    let acked = start.elapsed();
    let lost = failures.iter().filter(|(_, ok)| !ok).count();
    let resent: usize = failures.iter().map(|(f, _)| f.len()).sum();
    if resent > 0 {
        let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
        for reason in failures.iter().flat_map(|(f, _)| f) {
            *kinds.entry(reason.as_str()).or_default() += 1;
        }
        println!("[{tag}] {resent} failed attempt(s), sent again: {kinds:#?}");
    }
    assert_eq!(
        lost, 0,
        "{lost} deliveries were not acknowledged in {ATTEMPTS} attempts"
    );
    (start, acked)
}

/// Starts `zavu-script listen --concurrency WORKERS` on `handler` (Rhai source) with its
/// state in `dir`,
/// registering itself with the sandbox at `base`; the process, its log lines, and the URL
/// it receives on once it has started.
fn start_listen(
    base: &str,
    dir: &std::path::Path,
    handler: &str,
    workers: usize,
) -> (Child, Lines, String) {
    let script = dir.join("handler.rhai");
    std::fs::write(&script, handler).expect("handler written");
    // `LISTEN_BIN` runs another build of the same binary (one with symbols, to profile).
    let bin =
        std::env::var("LISTEN_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_zavu-script").into());
    let mut listen = Command::new(bin)
        .env("ZAVUDEV_API_KEY", KEY)
        .env("ZAVUDEV_BASE_URL", base)
        .env("ZAVU_SCRIPT_STATE_DIR", dir.join("state"))
        .arg("listen")
        .arg(&script)
        .args(["--port", "0", "--register", "self"])
        .args(["--concurrency", &workers.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zavu-script listen starts");
    let lines = Lines::default();
    lines.follow(listen.stderr.take().expect("listen's stderr"));
    let url = lines.wait("listen to start", |seen| {
        let started = seen.iter().any(|(_, l)| l.contains("first start: "));
        let url = seen.iter().find_map(|(_, l)| {
            l.split("receiving deliveries on ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        });
        url.filter(|_| started)
    });
    (listen, lines, url)
}

/// CPU time (user + system) of each of a process's threads, by thread name, from
/// `/proc/PID/task/*/stat`, and last (thread id 0, "ended") what its threads that have
/// ended used: the process's own total counts them, its live threads no longer do
/// (Python's server runs each connection on a thread of its own).
fn threads_cpu(pid: u32) -> Vec<(u32, String, Duration)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return vec![];
    };
    let mut threads: Vec<_> = tasks
        .filter_map(|t| {
            let t = t.ok()?;
            let tid: u32 = t.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            parse_stat(&stat).map(|(name, cpu)| (tid, name, cpu))
        })
        .collect();
    let total = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| parse_stat(&s))
        .map(|(_, cpu)| cpu)
        .unwrap_or_default();
    let live: Duration = threads.iter().map(|(_, _, cpu)| *cpu).sum();
    threads.push((0, "ended".into(), total.saturating_sub(live)));
    threads
}

/// This process's CPU time so far (user + system, every thread).
fn own_cpu() -> Duration {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s))
        .map(|(_, cpu)| cpu)
        .unwrap_or_default()
}

/// The name and the CPU time (utime + stime) in a `/proc` `stat` line. The name is in
/// parentheses and may hold spaces, so the fields are counted from its closing one.
fn parse_stat(stat: &str) -> Option<(String, Duration)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let name = stat[open + 1..close].to_string();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // After the name: state is field 3 of the line; utime and stime are 14 and 15.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some((name, Duration::from_micros(ticks * 1_000_000 / per_second)))
}

/// CPU per event over a run, in µs.
struct Cpu {
    /// The receiver's, by kind of thread, largest first.
    receiver: Vec<(&'static str, f64)>,
    sender: f64,
}

impl Cpu {
    fn between(
        before: &[(u32, String, Duration)],
        after: &[(u32, String, Duration)],
        sender: Duration,
        events: usize,
    ) -> Cpu {
        let per_event = |d: Duration| d.as_secs_f64() * 1e6 / events as f64;
        let mut kinds = std::collections::BTreeMap::<&'static str, Duration>::new();
        for (tid, name, cpu) in after {
            let was = before
                .iter()
                .find(|(t, _, _)| t == tid)
                .map(|(_, _, c)| *c)
                .unwrap_or_default();
            *kinds.entry(kind(name)).or_default() += cpu.saturating_sub(was);
        }
        let mut receiver: Vec<_> = kinds.into_iter().map(|(k, d)| (k, per_event(d))).collect();
        receiver.sort_by(|a, b| b.1.total_cmp(&a.1));
        Cpu {
            receiver,
            sender: per_event(sender),
        }
    }

    fn receiver_total(&self) -> f64 {
        self.receiver.iter().map(|(_, us)| us).sum()
    }
}

/// What a receiver's thread does, from its name.
fn kind(name: &str) -> &'static str {
    match name {
        "listen-handler" => "handler",
        "listen-inbox" => "inbox writer",
        "log-writer" => "log writer",
        n if n.starts_with("tokio-rt") => "HTTP",
        n if n.starts_with("python") => "python",
        "ended" => "ended threads",
        _ => "other",
    }
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn percentile(values: &[Duration], p: usize) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    v[((v.len() * p).div_ceil(100))
        .saturating_sub(1)
        .min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
