//! Messages: send (with `Zavu-Sender` as a header; safe to repeat only with an
//! `idempotencyKey`; a template send checked against its template first), get and list.

use super::api_client::ApiClient;
use super::error::ClientError;
use super::retry::Safety;
use super::transport::{Failure, decode_write, query_of};
use super::url::segment;
use crate::api::message::resolve_channel;
use crate::api::validate::template_send;
use crate::api::{ListMessages, Message, MessageEnvelope, Page, SendMessage};
use reqwest::Method;

impl ApiClient {
    /// A template send is checked against the template it names before it leaves — the
    /// channel has a body, the variables are exactly the body's — as the API would check
    /// it. An unknown template is the API's own 404.
    pub async fn check_template_send(&self, params: &SendMessage) -> Result<(), ClientError> {
        if params.message_type.as_deref() != Some("template") {
            return Ok(());
        }
        let Some(content) = &params.content else {
            return Ok(());
        };
        let Some(id) = content.get("templateId").and_then(|v| v.as_str()) else {
            return Ok(());
        };
        let template = self.template_for_send(id).await?;
        let channel = resolve_channel(params.channel.as_deref(), &params.to, "template");
        template_send(&template, &channel, content).map_err(ClientError::InvalidParams)
    }

    /// `POST /v1/messages`, with `Zavu-Sender` as a header when given. With an
    /// `idempotencyKey` it is safe to repeat, and a repeat that meets its own earlier
    /// success (409) answers with that message.
    pub async fn send_message(
        &self,
        params: &SendMessage,
        sender: Option<&str>,
    ) -> Result<Message, ClientError> {
        self.check_template_send(params).await?;
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
