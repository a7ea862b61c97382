//! The invite page: what the invited client sees at an invitation's `url`. Opening it sets
//! `viewedAt`; its two buttons (plain HTML forms, no script) start and complete the signup
//! through the same transitions as the control plane. A cancelled or expired invitation's
//! page says so. This is the one part of the sandbox that answers HTML.

use super::body::Id;
use super::control::{Action, DriveError, drive};
use super::lifecycle;
use super::state::AppState;
use crate::api::{Invitation, InvitationStatus};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::sync::Arc;

type App = State<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/invite/{token}", get(show))
        .route("/invite/{token}/start", post(start))
        .route("/invite/{token}/complete", post(complete))
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let doc = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}}\
.status{{display:inline-block;padding:.2rem .6rem;border-radius:1rem;background:#eef}}\
button{{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0;cursor:pointer}}\
.note{{color:#555;font-size:.9rem}}</style></head><body>{}</body></html>",
        escape(title),
        body
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        doc,
    )
        .into_response()
}

fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Invitation not found",
        "<h1>Invitation not found</h1><p>This link is not valid. Ask whoever sent it for a new one.</p>",
    )
}

fn render(app: &AppState, inv: &Invitation, token: &str) -> Response {
    let who = inv
        .client_name
        .as_deref()
        .map(|n| format!(" for <strong>{}</strong>", escape(n)))
        .unwrap_or_default();
    let status = inv.status.clone();
    let (headline, actions) = match status {
        InvitationStatus::Pending | InvitationStatus::Failed => (
            "Connect your WhatsApp Business account",
            format!(
                "<form method=\"post\" action=\"/invite/{t}/start\"><button>Start signup</button></form>\
<form method=\"post\" action=\"/invite/{t}/complete\"><button>Connect and finish</button></form>",
                t = escape(token)
            ),
        ),
        InvitationStatus::InProgress => (
            "Finish connecting your account",
            format!(
                "<form method=\"post\" action=\"/invite/{t}/complete\"><button>Connect and finish</button></form>",
                t = escape(token)
            ),
        ),
        InvitationStatus::Completed => (
            "You're connected",
            format!(
                "<p>Your WhatsApp Business account is connected. Sender: <code>{}</code></p>",
                escape(inv.sender_id.as_deref().unwrap_or(""))
            ),
        ),
        InvitationStatus::Cancelled => (
            "This invitation was cancelled",
            "<p>The link no longer works. Ask whoever sent it for a new one.</p>".to_string(),
        ),
        InvitationStatus::Expired => (
            "This invitation has expired",
            "<p>The link no longer works. Ask whoever sent it for a new one.</p>".to_string(),
        ),
        InvitationStatus::Other(_) => ("Invitation", String::new()),
    };
    let failure = inv
        .failure_reason
        .as_deref()
        .map(|r| {
            format!(
                "<p class=\"note\">Last attempt did not finish ({}). You can try again.</p>",
                escape(r)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<p class=\"note\">{project} invited you{who}.</p><h1>{headline}</h1>\
<p>Status: <span class=\"status\">{status}</span> · expires {expires}</p>{failure}{actions}\
<p class=\"note\">Zavu sandbox — nothing here leaves this machine.</p>",
        project = escape(&app.project_name),
        status = escape(inv.status.as_str()),
        expires = escape(&inv.expires_at.to_string()),
    );
    html(StatusCode::OK, headline, &body)
}

async fn show(State(app): App, Id(token): Id) -> Response {
    let Some(id) = app.store().invitation_id_by_token(&token) else {
        return not_found();
    };
    // Opening the page is a view; a cancelled or expired one simply is not marked.
    let _ = drive(&app, &id, Action::View);
    let now = app.clock.now();
    let inv = match app.store().invitation(&id) {
        Some(inv) => lifecycle::render(inv, now),
        None => return not_found(),
    };
    render(&app, &inv, &token)
}

fn act(app: &AppState, token: &str, action: Action) -> Response {
    let Some(id) = app.store().invitation_id_by_token(token) else {
        return not_found();
    };
    match drive(app, &id, action) {
        Ok(_) | Err(DriveError::Refused(_)) => {
            Redirect::to(&format!("/invite/{token}")).into_response()
        }
        Err(DriveError::NotFound) => not_found(),
    }
}

async fn start(State(app): App, Id(token): Id) -> Response {
    act(&app, &token, Action::Start)
}

async fn complete(State(app): App, Id(token): Id) -> Response {
    act(&app, &token, Action::Complete)
}
