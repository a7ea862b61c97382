//! The Zavu API client: one async method per endpoint, over one `reqwest` connection pool.
//!
//! Every request passes the key's shared [`rate::RateBudget`] before it is sent, and the
//! retry rules in [`retry`] after it comes back. The client never re-sends a request that
//! may already have taken effect: such failures come back as
//! [`ClientError::OutcomeUnknown`] for the caller to reconcile. It knows nothing of Rhai,
//! journals or terminals; `--debug` output goes through `tracing` with the key redacted.
//!
//! [`api_client`] holds the client and its settings, `transport` sends one request (pacing,
//! retries, decoding), and one file per resource (`invitations`, `messages`, `senders`,
//! `templates`, `account` for phone numbers, `me` and balance) says which path and body
//! each call uses. It imports only the wire types.
//!
//! Imports: `api` only. Must not import the engine, campaigns, the sandbox or any front
//! door.

mod account;
mod api_client;
pub mod control;
pub mod error;
mod invitations;
pub mod key;
mod messages;
pub mod rate;
pub mod retry;
mod senders;
mod templates;
mod transport;
mod url;
mod webhook;

pub use api_client::{ApiClient, ClientOptions};
pub use error::{ApiError, ClientError};
pub use invitations::InvitationPager;
pub use key::ApiKey;
pub use url::{BadBaseUrl, DEFAULT_BASE_URL, normalize_base_url};
