//! Client and scripting throughput against a sandbox, by hand:
//!
//!     cargo bench --bench client_throughput
//!
//! Starts a sandbox in this process (or uses `ZAVUDEV_BASE_URL`/`ZAVUDEV_API_KEY` if set)
//! and prints, for the report: invitation creates per second through `ApiClient` at
//! concurrency 1, 8 and 32, and the per-call cost of the same read made directly through
//! the client and from a Rhai script (`zavu.invitations.get`), on the same sandbox.

use futures::StreamExt;
use std::sync::Arc;
use std::time::Instant;
use zavu_script::api::CreateInvitation;
use zavu_script::client::{ApiClient, ApiKey, ClientOptions};
use zavu_script::engine::bridge::Bridge;
use zavu_script::engine::{self, HostOptions, LogLevel, Sink};
use zavu_script::sandbox::{Sandbox, SandboxOptions};
use zavu_script::stop::Stop;

struct Quiet;
impl Sink for Quiet {
    fn print(&self, _: &str) {}
    fn log(&self, _: LogLevel, _: &str) {}
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (base, key, sandbox) = match std::env::var("ZAVUDEV_BASE_URL") {
        Ok(url) => (
            url,
            std::env::var("ZAVUDEV_API_KEY").unwrap_or_else(|_| "zv_test_sandbox".into()),
            None,
        ),
        Err(_) => {
            let sb = rt
                .block_on(Sandbox::start(SandboxOptions::default()))
                .expect("sandbox");
            (
                sb.base_url().to_string(),
                "zv_test_sandbox".to_string(),
                Some(sb),
            )
        }
    };
    println!(
        "target: {base} ({})",
        if sandbox.is_some() {
            "in-process sandbox"
        } else {
            "external"
        }
    );
    let client = ApiClient::new(ClientOptions::new(&base, ApiKey::new(&key))).expect("client");

    let n = 10_000usize;
    for conc in [1usize, 8, 32] {
        let start = Instant::now();
        let ok = rt.block_on(async {
            futures::stream::iter(0..n)
                .map(|i| {
                    let c = client.clone();
                    async move {
                        c.create_invitation(&CreateInvitation {
                            client_email: Some(format!("bench{conc}-{i}@example.com")),
                            ..Default::default()
                        })
                        .await
                        .is_ok()
                    }
                })
                .buffer_unordered(conc)
                .filter(|ok| futures::future::ready(*ok))
                .count()
                .await
        });
        let secs = start.elapsed().as_secs_f64();
        println!(
            "client creates, concurrency {conc:>2}: {ok} in {secs:.2} s = {:.0} creates/s",
            ok as f64 / secs
        );
    }

    // The same read, N times: straight through the client, then from a script.
    let id = rt
        .block_on(client.create_invitation(&CreateInvitation::default()))
        .expect("create")
        .id;
    let calls = 5_000;
    let start = Instant::now();
    rt.block_on(async {
        for _ in 0..calls {
            client.get_invitation(&id).await.expect("get");
        }
    });
    let direct = start.elapsed().as_secs_f64() / calls as f64 * 1e6;

    let bridge = Arc::new(Bridge::new(rt.handle().clone(), Arc::new(Stop::default())));
    let engine = engine::build(HostOptions {
        limits: Default::default(),
        state_dir: None,
        shared_state: None,
        campaign: Default::default(),
        sink: Arc::new(Quiet),
        api: Some(ClientOptions::new(base.clone(), ApiKey::new(&key))),
        bridge,
        memory: None,
    });
    let script = format!("for i in 0..{calls} {{ zavu.invitations.get(\"{id}\"); }}");
    let ast = engine.compile(&script).expect("compile");
    let start = Instant::now();
    engine.run_ast(&ast).expect("script runs");
    let scripted = start.elapsed().as_secs_f64() / calls as f64 * 1e6;
    println!(
        "get_invitation x{calls}: client {direct:.1} µs/call, script {scripted:.1} µs/call, script overhead {:.1} µs/call",
        scripted - direct
    );
    if let Some(sb) = sandbox {
        let _ = rt.block_on(sb.shutdown());
    }
}
