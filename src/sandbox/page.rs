//! The invite page: what the invited client sees at an invitation's `url`, in a real
//! browser. Opening it sets `viewedAt`; then one step at a time — start the signup, then
//! connect the account (or give up, which the API shows as `failed`) — through plain HTML
//! forms (no script) that drive the same transitions as the control plane, each answered
//! with a redirect back to the page (post/redirect/get, so a reload never repeats a step).
//! A cancelled, expired or unknown invitation's page says so. This is the one part of the
//! sandbox that answers HTML; links and form actions are relative, so it works behind a
//! path prefix too.

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
        .route("/invite/{token}/abandon", post(abandon))
}

fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_safe(s)
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let doc = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}}\
.status{{display:inline-block;padding:.2rem .6rem;border-radius:1rem;background:#eef}}\
button{{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0;cursor:pointer}}\
.note{{color:#555;font-size:.9rem}}ol.steps{{padding-left:1.2rem}}ol.steps li{{margin:.2rem 0;color:#777}}ol.steps li.done{{color:#1f7a45}}ol.steps li.now{{color:#222;font-weight:600}}button.secondary{{background:none;border:1px solid #bbb}}</style></head><body>{}</body></html>",
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

/// The signup's steps, marked done / now / to come for the invitation's status.
fn steps(status: &InvitationStatus) -> String {
    let reached = match status {
        InvitationStatus::Pending | InvitationStatus::Failed => 1,
        InvitationStatus::InProgress => 2,
        InvitationStatus::Completed => 3,
        _ => return String::new(),
    };
    let names = [
        "Open your invitation",
        "Start the signup",
        "Connect your WhatsApp Business account",
    ];
    let items: String = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let class = match i.cmp(&reached) {
                std::cmp::Ordering::Less => "done",
                std::cmp::Ordering::Equal => "now",
                std::cmp::Ordering::Greater => "",
            };
            format!("<li class=\"{class}\">{name}</li>")
        })
        .collect();
    format!("<ol class=\"steps\">{items}</ol>")
}

/// A button posting to `<token>/<action>`, relative to the page's own address.
fn button(token: &str, action: &str, label: &str, class: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{t}/{action}\"><button id=\"{action}\" class=\"{class}\">{label}</button></form>",
        t = escape(token)
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
            button(token, "start", "Start signup", ""),
        ),
        InvitationStatus::InProgress => (
            "Finish connecting your account",
            format!(
                "{}{}",
                button(token, "complete", "Connect and finish", ""),
                button(token, "abandon", "I can't finish now", "secondary")
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
        "<p class=\"note\">{project} invited you{who}.</p><h1>{headline}</h1>{steps}\
<p>Status: <span class=\"status\" id=\"status\">{status}</span> · expires {expires}</p>{failure}{actions}\
<p class=\"note\">Zavu sandbox — nothing here leaves this machine.</p>",
        project = escape(&app.project_name),
        steps = steps(&inv.status),
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
        // Refused (say, a second click after completing): the page shows where it stands.
        // `../<token>` from `/invite/<token>/<action>` is the page itself.
        Ok(_) | Err(DriveError::Refused(_)) => Redirect::to(&format!("../{token}")).into_response(),
        Err(DriveError::NotFound) => not_found(),
    }
}

async fn start(State(app): App, Id(token): Id) -> Response {
    act(&app, &token, Action::Start)
}

async fn complete(State(app): App, Id(token): Id) -> Response {
    act(&app, &token, Action::Complete)
}

async fn abandon(State(app): App, Id(token): Id) -> Response {
    act(&app, &token, Action::Fail("signup_abandoned".into()))
}
