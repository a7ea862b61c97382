//! The contract's rules for request bodies, applied to raw JSON so that every problem is
//! reported at once, each with the path of the field it concerns.
//!
//! The sandbox answers 400 with these errors in `details.errors`; scripts and campaigns run
//! the same checks before a request leaves, so a bad row never costs a round trip. Unknown
//! keys are a choice of the caller; the sandbox and scripts both reject them (a misspelt
//! key is a bug the user wants to hear about, and a key the API does not take must not
//! pass offline and fail live). `Ignore` is for a caller that has already named the
//! unknown keys itself.
//!
//! [`rules`] holds what many requests share, [`fields`] the reader the rules are written
//! with, and one file per resource (`invitation`, `message`, `sender`, `template`,
//! `webhook` for the project webhook) its own rules, and `template_send` a send checked
//! against the template it names.

mod fields;
mod invitation;
mod message;
mod rules;
mod sender;
mod template;
mod template_send;
mod webhook;

pub use crate::api::error::{FieldError, summarize};
pub use fields::UnknownKeys;
pub use invitation::{CREATE_INVITATION_KEYS, create_invitation};
pub use message::{SEND_MESSAGE_KEYS, send_message};
pub use rules::*;
pub use sender::{UPDATE_SENDER_KEYS, is_https_url, update_sender};
pub use template::{CREATE_TEMPLATE_KEYS, SUBMIT_TEMPLATE_KEYS, create_template, submit_template};
pub use template_send::template_send;
pub use webhook::{
    CONFIGURE_WEBHOOK_KEYS, UPDATE_WEBHOOK_KEYS, configure_webhook, is_delivery_url, update_webhook,
};
