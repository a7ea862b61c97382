//! The project webhook (`/v1/invitations/webhook`): configure (create or replace; the
//! secret is kept), get, update, delete. Every call is safe to repeat: configuring twice
//! leaves one webhook, and a repeated delete that finds nothing finds its own work done.

use super::api_client::ApiClient;
use super::error::ClientError;
use super::retry::Safety;
use super::transport::{Failure, decode};
use crate::api::webhook::{STATUS_CHANGED, Webhook, WebhookEnvelope};
use reqwest::Method;
use serde_json::{Value, json};

const PATH: &str = "/v1/invitations/webhook";

impl ApiClient {
    /// `POST /v1/invitations/webhook`: deliveries of `events` (default: every status
    /// change) to `url`.
    pub async fn configure_webhook(
        &self,
        url: &str,
        events: Option<&[String]>,
    ) -> Result<Webhook, ClientError> {
        let events: Vec<String> = match events {
            Some(e) => e.to_vec(),
            None => vec![STATUS_CHANGED.to_string()],
        };
        let body = json!({ "url": url, "events": events });
        self.webhook_call(Method::POST, Some(&body)).await
    }

    /// `GET /v1/invitations/webhook` (404 when none is configured).
    pub async fn get_webhook(&self) -> Result<Webhook, ClientError> {
        self.get::<WebhookEnvelope>(PATH, &[])
            .await
            .map(|e| e.webhook)
    }

    /// `PATCH /v1/invitations/webhook` with any of `url`, `events`, `active`.
    pub async fn update_webhook(&self, changes: &Value) -> Result<Webhook, ClientError> {
        self.webhook_call(Method::PATCH, Some(changes)).await
    }

    /// `DELETE /v1/invitations/webhook`.
    pub async fn delete_webhook(&self) -> Result<(), ClientError> {
        match self
            .exchange(Method::DELETE, PATH, &[], None, &[], Safety::Idempotent)
            .await
        {
            Ok(_) => Ok(()),
            // A retry after a lost answer that finds nothing: the first attempt deleted it.
            Err(Failure {
                error: ClientError::Api(e),
                after_ambiguity: true,
            }) if e.status == 404 => Ok(()),
            Err(f) => Err(f.error),
        }
    }

    async fn webhook_call(
        &self,
        method: Method,
        body: Option<&Value>,
    ) -> Result<Webhook, ClientError> {
        let ex = self
            .exchange(method.clone(), PATH, &[], body, &[], Safety::Idempotent)
            .await?;
        decode::<WebhookEnvelope>(&method, PATH, &ex).map(|e| e.webhook)
    }
}
