//! The Zavu API v1 on the wire: request and response bodies, the error body, timestamps,
//! and the contract's validation rules.
//!
//! This is the one module both halves of the project import — the HTTP client and the
//! sandbox server — so that they cannot drift apart. It owns shapes and rules only: it does
//! no I/O, knows nothing of HTTP status handling, Rhai or storage.
//!
//! Imports: nothing of the project (it is the ground layer).

pub mod account;
pub mod error;
pub mod invitation;
pub mod message;
pub mod page;
pub mod phone_number;
pub mod sender;
pub mod template;
pub mod time;
pub mod validate;
pub mod webhook;

pub use account::{Balance, Me};
pub use error::{ErrorBody, FieldError};
pub use invitation::{
    ConnectedAccount, CreateInvitation, Invitation, InvitationEnvelope, InvitationStatus,
    ListInvitations,
};
pub use message::{ListMessages, Message, MessageEnvelope, SendMessage};
pub use page::{ListPage, Page};
pub use phone_number::{ListPhoneNumbers, OwnedPhoneNumber, PhoneNumberEnvelope};
pub use sender::{Sender, SenderWebhook, UpdateSender, WebhookUrl};
pub use template::{CreateTemplate, SubmitTemplate, Template};
pub use time::Timestamp;
