//! The project around the key: its phone numbers (to pick one to pre-assign), who the key
//! belongs to (`me`) and its balance.

use super::api_client::ApiClient;
use super::error::ClientError;
use super::transport::query_of;
use super::url::segment;
use crate::api::{Balance, ListPhoneNumbers, Me, OwnedPhoneNumber, Page, PhoneNumberEnvelope};

impl ApiClient {
    pub async fn list_phone_numbers(
        &self,
        params: &ListPhoneNumbers,
    ) -> Result<Page<OwnedPhoneNumber>, ClientError> {
        self.get("/v1/phone-numbers", &query_of(params)).await
    }

    pub async fn get_phone_number(&self, id: &str) -> Result<OwnedPhoneNumber, ClientError> {
        self.get::<PhoneNumberEnvelope>(&format!("/v1/phone-numbers/{}", segment(id)), &[])
            .await
            .map(|e| e.phone_number)
    }

    /// `GET /v1/me`: is this a test key, and which project it acts for.
    pub async fn me(&self) -> Result<Me, ClientError> {
        self.get("/v1/me", &[]).await
    }

    /// `GET /v1/balance`, in cents.
    pub async fn balance(&self) -> Result<Balance, ClientError> {
        self.get("/v1/balance", &[]).await
    }
}
