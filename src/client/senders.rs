//! Senders: list, get, update (name, default, webhook, email and channel switches) and
//! delete — what a partner does with the sender a completed invitation created.

use super::api_client::ApiClient;
use super::error::ClientError;
use super::retry::Safety;
use super::transport::{Failure, decode, query_of};
use super::url::segment;
use crate::api::{ListPage, Page, Sender, UpdateSender};
use reqwest::Method;

impl ApiClient {
    pub async fn get_sender(&self, id: &str) -> Result<Sender, ClientError> {
        self.get(&format!("/v1/senders/{}", segment(id)), &[]).await
    }

    pub async fn list_senders(&self, params: &ListPage) -> Result<Page<Sender>, ClientError> {
        self.get("/v1/senders", &query_of(params)).await
    }

    /// `PATCH /v1/senders/{id}`. Safe to repeat: the same update twice leaves the same
    /// sender.
    pub async fn update_sender(
        &self,
        id: &str,
        params: &UpdateSender,
    ) -> Result<Sender, ClientError> {
        let path = format!("/v1/senders/{}", segment(id));
        let body = params.to_json();
        let ex = self
            .exchange(
                Method::PATCH,
                &path,
                &[],
                Some(&body),
                &[],
                Safety::Idempotent,
            )
            .await?;
        decode(&Method::PATCH, &path, &ex)
    }

    /// `DELETE /v1/senders/{id}`. Safe to repeat: a repeat that finds the sender gone
    /// after an attempt whose answer was lost means that attempt deleted it.
    pub async fn delete_sender(&self, id: &str) -> Result<(), ClientError> {
        let path = format!("/v1/senders/{}", segment(id));
        match self
            .exchange(Method::DELETE, &path, &[], None, &[], Safety::Idempotent)
            .await
        {
            Ok(_) => Ok(()),
            Err(Failure {
                error: ClientError::Api(e),
                after_ambiguity: true,
            }) if e.status == 404 => Ok(()),
            Err(f) => Err(f.error),
        }
    }
}
