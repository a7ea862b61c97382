//! Messages: send (with `Zavu-Sender` as a header; safe to repeat only with an
//! `idempotencyKey`), get and list.

use super::api_client::ApiClient;
use super::error::ClientError;
use super::retry::Safety;
use super::transport::{Failure, decode_write, query_of};
use super::url::segment;
use crate::api::{ListMessages, Message, MessageEnvelope, Page, SendMessage};
use reqwest::Method;

impl ApiClient {
    /// `POST /v1/messages`, with `Zavu-Sender` as a header when given. With an
    /// `idempotencyKey` it is safe to repeat, and a repeat that meets its own earlier
    /// success (409) answers with that message.
    pub async fn send_message(
        &self,
        params: &SendMessage,
        sender: Option<&str>,
    ) -> Result<Message, ClientError> {
        let body = serde_json::to_value(params).unwrap_or_default();
        let path = "/v1/messages";
        let safety = if params.idempotency_key.is_some() {
            Safety::Idempotent
        } else {
            Safety::Unsafe
        };
        let headers: Vec<(&str, String)> = sender
            .map(|s| vec![("zavu-sender", s.to_string())])
            .unwrap_or_default();
        match self
            .exchange(Method::POST, path, &[], Some(&body), &headers, safety)
            .await
        {
            Ok(ex) => decode_write::<MessageEnvelope>(&Method::POST, path, &ex).map(|e| e.message),
            Err(Failure {
                error: ClientError::Api(e),
                after_ambiguity: true,
            }) if e.status == 409 => {
                let existing = e
                    .details
                    .as_ref()
                    .and_then(|d| d.get("messageId"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                match existing {
                    Some(id) => self.get_message(&id).await,
                    None => Err(ClientError::Api(e)),
                }
            }
            Err(f) => Err(f.error),
        }
    }

    pub async fn get_message(&self, id: &str) -> Result<Message, ClientError> {
        let path = format!("/v1/messages/{}", segment(id));
        self.get::<MessageEnvelope>(&path, &[])
            .await
            .map(|e| e.message)
    }

    pub async fn list_messages(&self, params: &ListMessages) -> Result<Page<Message>, ClientError> {
        self.get("/v1/messages", &query_of(params)).await
    }
}
