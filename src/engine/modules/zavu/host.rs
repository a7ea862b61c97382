//! The clients behind `zavu`: the default one (made on first use, from the session's
//! settings) and the ones `zavu_client(#{…})` asks for; the `Zavu` handle a script holds and
//! its per-resource views; and the one place a client call crosses the bridge and its
//! failure becomes a script error.

use crate::api::FieldError;
use crate::client::{ApiClient, ApiKey, ClientError, ClientOptions};
use crate::engine::api_error::{ScriptApiError, StoppedMidCall, check_after_stop};
use crate::engine::bridge::{Bridge, Stopped};
use rhai::{Dynamic, EvalAltResult, Position};
use std::future::Future;
use std::sync::{Arc, Mutex};

pub(super) type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// Builds the clients a script uses: the default one behind `zavu` (made on first use)
/// and the ones `zavu_client(#{…})` asks for.
pub struct ZavuHost {
    bridge: Arc<Bridge>,
    /// Where `zavu` points, and the settings every client of the run shares.
    api: Option<ClientOptions>,
    default: Mutex<Option<Zavu>>,
}

impl ZavuHost {
    pub fn new(bridge: Arc<Bridge>, api: Option<ClientOptions>) -> Self {
        ZavuHost {
            bridge,
            api,
            default: Mutex::new(None),
        }
    }

    pub fn bridge(&self) -> &Arc<Bridge> {
        &self.bridge
    }

    /// The client behind `zavu`.
    pub fn default_zavu(&self) -> RhaiResult<Zavu> {
        let mut slot = self.default.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(z) = slot.as_ref() {
            return Ok(z.clone());
        }
        let z = self.client_for(None, None)?;
        *slot = Some(z.clone());
        Ok(z)
    }

    /// A client for `apiKey`/`baseUrl`, each defaulting to the current target's.
    pub fn client_for(&self, key: Option<String>, base: Option<String>) -> RhaiResult<Zavu> {
        let Some(api) = &self.api else {
            return Err("no API target: this command does not talk to the API".into());
        };
        let mut opts = api.clone();
        if let Some(key) = key {
            opts.api_key = ApiKey::new(key);
        }
        if let Some(base) = base {
            opts.base_url = base;
        }
        let client = ApiClient::new(opts).map_err(|e| {
            ScriptApiError::invalid_params(
                "zavu_client",
                &[FieldError::new(&["baseUrl"], e.reason)],
            )
            .into_err()
        })?;
        Ok(Zavu {
            client,
            bridge: self.bridge.clone(),
        })
    }
}

/// A handle on one project: a client and the bridge its calls cross.
#[derive(Clone)]
pub struct Zavu {
    pub(super) client: ApiClient,
    pub(super) bridge: Arc<Bridge>,
}

macro_rules! resource_types {
    ($($t:ident),*) => {$(
        #[derive(Clone)]
        pub struct $t(pub(super) Zavu);
    )*};
}
resource_types!(
    Invitations,
    Messages,
    Senders,
    Templates,
    PhoneNumbers,
    Me,
    Balance,
    Webhook
);

impl Zavu {
    pub fn client(&self) -> &ApiClient {
        &self.client
    }

    /// Awaits a client call on the bridge, turning failures into script errors.
    pub(super) fn call<T>(
        &self,
        call: &str,
        fut: impl Future<Output = Result<T, ClientError>>,
    ) -> RhaiResult<T> {
        match self.bridge.block_on(fut) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ScriptApiError::from_client(call, &e).into_err()),
            Err(Stopped(reason)) => Err(match check_after_stop(call) {
                Some(check) => Box::new(EvalAltResult::ErrorTerminated(
                    Dynamic::from(StoppedMidCall {
                        reason,
                        call: call.to_string(),
                        check,
                    }),
                    Position::NONE,
                )),
                None => stopped(reason),
            }),
        }
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "Zavu client → {} (key {})",
            self.client.base_url(),
            self.client.key().redacted()
        )
    }
}

pub fn stopped(reason: String) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorTerminated(
        reason.into(),
        Position::NONE,
    ))
}

// ---- more projects ----
