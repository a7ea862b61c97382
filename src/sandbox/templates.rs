//! `/v1/templates`: list, get, create, submit — and the review the control plane drives.
//! A template is created `draft`; submitting it (with a sender that has a WhatsApp
//! Business Account) makes it `pending`; review approves or rejects it. Only `approved`
//! templates can be sent. Every answer is the bare Template.

use super::body::{Id, JsonBody, QueryParams};
use super::reply::{ApiFailure, json_response, page_response};
use super::state::AppState;
use super::store::random_id;
use crate::api::error::codes;
use crate::api::template::TemplateWhatsapp;
use crate::api::validate::{self, UnknownKeys};
use crate::api::{FieldError, Template};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

type App = State<Arc<AppState>>;

pub async fn list(State(app): App, q: QueryParams) -> Result<Response, ApiFailure> {
    let limit = q.limit()?;
    let page = app.store().list_templates(q.get("cursor"), limit)?;
    Ok(page_response(page))
}

pub async fn get(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    let store = app.store();
    let template = store
        .template(&id)
        .ok_or_else(|| ApiFailure::not_found("Template", &id))?;
    Ok(json_response(StatusCode::OK, template))
}

pub async fn create(State(app): App, JsonBody(body): JsonBody) -> Result<Response, ApiFailure> {
    let req = validate::create_template(&body, UnknownKeys::Reject).map_err(ApiFailure::invalid)?;
    let now = app.clock.now();
    let template = {
        let mut store = app.store();
        if let Some(existing) = store.template_named(&req.name, &req.language) {
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                codes::CONFLICT,
                format!(
                    "A template named '{}' in language '{}' already exists ({})",
                    req.name, req.language, existing.id
                ),
            ));
        }
        let template = Template {
            id: format!("tmpl_{}", random_id(16)),
            name: req.name,
            language: req.language,
            body: req.body,
            category: req.whatsapp_category.unwrap_or_else(|| "UTILITY".into()),
            status: Some("draft".into()),
            variables: req.variables,
            buttons: req.buttons,
            header_type: req.header_type,
            header_content: req.header_content,
            footer: req.footer,
            sms_body: req.sms_body,
            telegram_body: req.telegram_body,
            instagram_body: req.instagram_body,
            add_security_recommendation: req.add_security_recommendation,
            code_expiration_minutes: req.code_expiration_minutes,
            whatsapp: None,
            created_at: Some(now),
            updated_at: Some(now),
        };
        store.insert_template(template.clone());
        template
    };
    app.touched();
    Ok(json_response(StatusCode::CREATED, &template))
}

pub async fn submit(
    State(app): App,
    Id(id): Id,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiFailure> {
    let req = validate::submit_template(&body, UnknownKeys::Reject).map_err(ApiFailure::invalid)?;
    let now = app.clock.now();
    let template = {
        let mut store = app.store();
        let sender = store
            .sender(&req.sender_id)
            .ok_or_else(|| ApiFailure::not_found("Sender", &req.sender_id))?;
        if sender.whatsapp.is_none() {
            return Err(ApiFailure::invalid(vec![FieldError::new(
                &["senderId"],
                format!(
                    "sender {} has no WhatsApp Business Account to review templates",
                    req.sender_id
                ),
            )]));
        }
        let template = store
            .template_mut(&id)
            .ok_or_else(|| ApiFailure::not_found("Template", &id))?;
        let status = template.status.as_deref().unwrap_or("draft");
        if status != "draft" {
            return Err(ApiFailure::bad_request(format!(
                "Cannot submit template {id}: it is {status}; only draft templates can be submitted"
            )));
        }
        if let Some(category) = req.category {
            template.category = category;
        }
        template.status = Some("pending".into());
        template.whatsapp = Some(TemplateWhatsapp {
            namespace: Some("sandbox_namespace".into()),
            status: Some("PENDING".into()),
            template_name: Some(template.name.clone()),
        });
        template.updated_at = Some(now);
        template.clone()
    };
    app.touched();
    Ok(json_response(StatusCode::OK, &template))
}

/// Why a review did not happen.
pub enum ReviewError {
    NotFound,
    NotPending(String),
}

/// WhatsApp's review of a submitted template: `pending` → `approved` or `rejected`.
pub fn review(app: &AppState, id: &str, approve: bool) -> Result<Template, ReviewError> {
    let now = app.clock.now();
    let template = {
        let mut store = app.store();
        let t = store.template_mut(id).ok_or(ReviewError::NotFound)?;
        let status = t.status.clone().unwrap_or_else(|| "draft".into());
        if status != "pending" {
            let action = if approve { "approve" } else { "reject" };
            return Err(ReviewError::NotPending(format!(
                "Cannot {action} template {id}: it is {status}; only a submitted (pending) template is reviewed"
            )));
        }
        let (status, meta) = if approve {
            ("approved", "APPROVED")
        } else {
            ("rejected", "REJECTED")
        };
        t.status = Some(status.into());
        let wa = t.whatsapp.get_or_insert_with(TemplateWhatsapp::default);
        wa.status = Some(meta.into());
        t.updated_at = Some(now);
        t.clone()
    };
    app.touched();
    Ok(template)
}
