//! Partner invitations: create (never repeated blindly), get, list, cancel (safe to
//! repeat), and a pager that walks every page as it is consumed.

use super::api_client::ApiClient;
use super::error::ClientError;
use super::retry::Safety;
use super::transport::{Failure, decode, decode_write, query_of};
use super::url::segment;
use crate::api::{
    CreateInvitation, Invitation, InvitationEnvelope, InvitationStatus, ListInvitations, Page,
};
use reqwest::Method;
use std::collections::VecDeque;

impl ApiClient {
    /// `POST /v1/invitations`. Never repeated after a failure that may have created it:
    /// that comes back as [`ClientError::OutcomeUnknown`].
    pub async fn create_invitation(
        &self,
        params: &CreateInvitation,
    ) -> Result<Invitation, ClientError> {
        let body = serde_json::to_value(params).unwrap_or_default();
        let path = "/v1/invitations";
        let ex = self
            .exchange(Method::POST, path, &[], Some(&body), &[], Safety::Unsafe)
            .await?;
        decode_write::<InvitationEnvelope>(&Method::POST, path, &ex).map(|e| e.invitation)
    }

    pub async fn get_invitation(&self, id: &str) -> Result<Invitation, ClientError> {
        let path = format!("/v1/invitations/{}", segment(id));
        self.get::<InvitationEnvelope>(&path, &[])
            .await
            .map(|e| e.invitation)
    }

    pub async fn list_invitations(
        &self,
        params: &ListInvitations,
    ) -> Result<Page<Invitation>, ClientError> {
        self.get("/v1/invitations", &query_of(params)).await
    }

    /// `POST /v1/invitations/{id}/cancel`. Safe to repeat: if a repeat finds the
    /// invitation already cancelled after an attempt whose answer was lost, that attempt
    /// did it, and the cancelled invitation is the answer.
    pub async fn cancel_invitation(&self, id: &str) -> Result<Invitation, ClientError> {
        let path = format!("/v1/invitations/{}/cancel", segment(id));
        match self
            .exchange(Method::POST, &path, &[], None, &[], Safety::Idempotent)
            .await
        {
            Ok(ex) => decode::<InvitationEnvelope>(&Method::POST, &path, &ex).map(|e| e.invitation),
            Err(Failure {
                error: ClientError::Api(e),
                after_ambiguity: true,
            }) if e.status == 400 => match self.get_invitation(id).await {
                Ok(inv) if inv.status == InvitationStatus::Cancelled => Ok(inv),
                _ => Err(ClientError::Api(e)),
            },
            Err(f) => Err(f.error),
        }
    }

    /// Every invitation matching `params`, page by page, fetched as they are consumed.
    pub fn invitations_all(&self, params: ListInvitations) -> InvitationPager {
        InvitationPager {
            client: self.clone(),
            params,
            buffer: VecDeque::new(),
            done: false,
        }
    }
}

/// Walks every page of `GET /v1/invitations`, fetching the next page only when the
/// current one is used up.
pub struct InvitationPager {
    client: ApiClient,
    params: ListInvitations,
    buffer: VecDeque<Invitation>,
    done: bool,
}

impl InvitationPager {
    pub async fn next(&mut self) -> Option<Result<Invitation, ClientError>> {
        loop {
            if let Some(inv) = self.buffer.pop_front() {
                return Some(Ok(inv));
            }
            if self.done {
                return None;
            }
            match self.client.list_invitations(&self.params).await {
                Ok(page) => {
                    match page.next() {
                        Some(c) => self.params.cursor = Some(c.to_string()),
                        None => self.done = true,
                    }
                    self.buffer.extend(page.items);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }

    /// Every invitation of the walk, or the first error.
    pub async fn collect(mut self) -> Result<Vec<Invitation>, ClientError> {
        let mut all = vec![];
        while let Some(inv) = self.next().await {
            all.push(inv?);
        }
        Ok(all)
    }

    /// The same walk as a `Stream`.
    pub fn into_stream(
        self,
    ) -> impl futures::Stream<Item = Result<Invitation, ClientError>> + Send {
        futures::stream::unfold(self, |mut pager| async move {
            pager.next().await.map(|item| (item, pager))
        })
    }
}
