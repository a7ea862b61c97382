//! Calls to a zavu-script sandbox's control plane (`/_sandbox/…`): drive an invitation
//! through the client's side of its life, review a submitted template, move the clock,
//! set faults, read counters.
//! Not part of the Zavu API — against the real service these answer 404. They bypass the
//! rate budget (the control plane is never rate limited) and are never retried.

use super::api_client::ApiClient;
use super::error::ClientError;
use super::transport::parse_error;
use super::url::segment;
use reqwest::Method;
use serde_json::{Value, json};

impl ApiClient {
    /// `POST /_sandbox/invitations/{id}/{action}`: `view`, `start`, `complete` or `fail`.
    pub async fn sandbox_drive(
        &self,
        id: &str,
        action: &str,
        body: Value,
    ) -> Result<Value, ClientError> {
        let path = format!("invitations/{}/{action}", segment(id));
        self.sandbox_control(Method::POST, &path, Some(&body)).await
    }

    /// `POST /_sandbox/templates/{id}/approve` or `/reject`: WhatsApp's review of a
    /// submitted template.
    pub async fn sandbox_review_template(
        &self,
        id: &str,
        approve: bool,
    ) -> Result<Value, ClientError> {
        let verdict = if approve { "approve" } else { "reject" };
        let path = format!("templates/{}/{verdict}", segment(id));
        self.sandbox_control(Method::POST, &path, Some(&json!({})))
            .await
    }

    pub async fn sandbox_advance_clock(&self, seconds: i64) -> Result<Value, ClientError> {
        self.sandbox_control(
            Method::POST,
            "clock",
            Some(&json!({ "advanceSeconds": seconds })),
        )
        .await
    }

    pub async fn sandbox_faults(&self, faults: &Value) -> Result<Value, ClientError> {
        self.sandbox_control(Method::POST, "faults", Some(faults))
            .await
    }

    pub async fn sandbox_stats(&self) -> Result<Value, ClientError> {
        self.sandbox_control(Method::GET, "stats", None).await
    }

    pub async fn sandbox_reset(&self) -> Result<Value, ClientError> {
        self.sandbox_control(Method::POST, "reset", Some(&json!({})))
            .await
    }

    /// `GET` or `POST` a control-plane path (after `/_sandbox/`) with an optional JSON body.
    async fn sandbox_control(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let full = format!("/_sandbox/{path}");
        let url = format!("{}{full}", self.inner.base);
        let mut req = self.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| ClientError::Unreachable {
            url: self.inner.base.clone(),
            reason: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| ClientError::Network {
            method: method.to_string(),
            path: full.clone(),
            attempts: 1,
            reason: e.to_string(),
        })?;
        if !(200..300).contains(&status) {
            let mut err = parse_error(&method, &full, status, &bytes);
            if status == 404 && err.code != "not_found"
                || err.message.starts_with("No such endpoint")
            {
                err.message = format!(
                    "{} (is {} a zavu-script sandbox?)",
                    err.message, self.inner.base
                );
            }
            return Err(ClientError::Api(Box::new(err)));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::InvalidResponse {
            method: method.to_string(),
            path: full,
            status,
            reason: e.to_string(),
        })
    }
}
