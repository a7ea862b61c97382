//! Integration tests: the client, the sandbox and the binary, over real HTTP on loopback.

mod support;

mod browser;
mod campaign;
mod campaign_report;
mod client_contract;
mod client_resilience;
mod cron;
mod engine_scripts;
mod layers;
mod repl;
mod sandbox_server;
mod seed_scripts;
