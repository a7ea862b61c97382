//! The script namespaces, one file each: `zavu` (the API), `csv::`, `json::`, `time::`,
//! `log::`, `sandbox::` (the sandbox's control plane), `store::` (values kept between
//! runs), and the process helpers (`env`, `sleep`).

pub mod campaign;
pub mod csv;
pub mod json;
pub mod log;
pub mod process;
pub mod sandbox;
pub mod store;
pub mod time;
pub mod zavu;
