//! Senders and templates: what a follow-up needs to find the sender a completed client
//! connected and the template to send through it.

use super::api_client::ApiClient;
use super::error::ClientError;
use super::transport::query_of;
use super::url::segment;
use crate::api::{ListPage, Page, Sender, Template};

impl ApiClient {
    pub async fn get_sender(&self, id: &str) -> Result<Sender, ClientError> {
        self.get(&format!("/v1/senders/{}", segment(id)), &[]).await
    }

    pub async fn list_senders(&self, params: &ListPage) -> Result<Page<Sender>, ClientError> {
        self.get("/v1/senders", &query_of(params)).await
    }

    pub async fn get_template(&self, id: &str) -> Result<Template, ClientError> {
        self.get(&format!("/v1/templates/{}", segment(id)), &[])
            .await
    }

    pub async fn list_templates(&self, params: &ListPage) -> Result<Page<Template>, ClientError> {
        self.get("/v1/templates", &query_of(params)).await
    }
}
