//! Templates: list, get, create, submit for review — and the template a send names, kept
//! for a few minutes so that a bulk follow-up checks its variables without fetching the
//! template once per message.

use super::api_client::ApiClient;
use super::error::ClientError;
use super::retry::Safety;
use super::transport::{Failure, decode, decode_write, query_of};
use super::url::segment;
use crate::api::{CreateTemplate, ListPage, Page, SubmitTemplate, Template};
use reqwest::Method;
use std::time::{Duration, Instant};

/// How long a fetched template is trusted for checking sends. A template's body and
/// buttons never change after creation (there is no update call); only its status does,
/// which the server checks itself.
const TEMPLATE_TTL: Duration = Duration::from_secs(300);

impl ApiClient {
    pub async fn get_template(&self, id: &str) -> Result<Template, ClientError> {
        let template: Template = self
            .get(&format!("/v1/templates/{}", segment(id)), &[])
            .await?;
        self.remember_template(&template);
        Ok(template)
    }

    /// The template `id`, from the last few minutes' fetches or from the API.
    pub async fn template_for_send(&self, id: &str) -> Result<Template, ClientError> {
        let cached = {
            let cache = self
                .inner
                .templates
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            cache
                .get(id)
                .filter(|(at, _)| at.elapsed() < TEMPLATE_TTL)
                .map(|(_, t)| t.clone())
        };
        match cached {
            Some(t) => Ok(t),
            None => self.get_template(id).await,
        }
    }

    fn remember_template(&self, template: &Template) {
        let mut cache = self
            .inner
            .templates
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cache.insert(template.id.clone(), (Instant::now(), template.clone()));
    }

    pub async fn list_templates(&self, params: &ListPage) -> Result<Page<Template>, ClientError> {
        self.get("/v1/templates", &query_of(params)).await
    }

    /// `POST /v1/templates`. Not repeated after a failure that may have created it (a
    /// second create of the same name is refused with 409 anyway).
    pub async fn create_template(&self, params: &CreateTemplate) -> Result<Template, ClientError> {
        let body = serde_json::to_value(params).unwrap_or_default();
        let path = "/v1/templates";
        let ex = self
            .exchange(Method::POST, path, &[], Some(&body), &[], Safety::Unsafe)
            .await?;
        let template: Template = decode_write(&Method::POST, path, &ex)?;
        self.remember_template(&template);
        Ok(template)
    }

    /// `POST /v1/templates/{id}/submit`. Safe to repeat: a repeat refused because the
    /// template is no longer a draft, after an attempt whose answer was lost, finds it
    /// pending — that attempt submitted it.
    pub async fn submit_template(
        &self,
        id: &str,
        params: &SubmitTemplate,
    ) -> Result<Template, ClientError> {
        let path = format!("/v1/templates/{}/submit", segment(id));
        let body = serde_json::to_value(params).unwrap_or_default();
        match self
            .exchange(
                Method::POST,
                &path,
                &[],
                Some(&body),
                &[],
                Safety::Idempotent,
            )
            .await
        {
            Ok(ex) => decode(&Method::POST, &path, &ex),
            Err(Failure {
                error: ClientError::Api(e),
                after_ambiguity: true,
            }) if e.status == 400 => match self.get_template(id).await {
                Ok(t) if t.status.as_deref() == Some("pending") => Ok(t),
                _ => Err(ClientError::Api(e)),
            },
            Err(f) => Err(f.error),
        }
    }
}
