//! Integration tests: the client, the sandbox and the binary, over real HTTP on loopback.

mod support;

mod after_onboarding;
mod browser;
mod campaign;
mod campaign_counts;
mod campaign_pg;
mod campaign_report;
mod client_contract;
mod client_resilience;
mod completions;
mod cron;
mod cron_replicas;
mod engine_scripts;
mod hostile;
mod journal;
mod layers;
mod listen;
mod listen_inbox;
mod listen_metrics;
mod listen_replicas;
mod memory;
mod repl;
mod sandbox_server;
mod sandbox_webhook;
mod scripts_after_onboarding;
mod scripts_webhook;
mod seed_scripts;
mod state;
mod template_sends;
mod wire_edges;
