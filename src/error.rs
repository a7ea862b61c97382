//! The errors a command ends with, and the one place they become exit statuses.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the script failed (compile or runtime error, or `throw`) |
//! | 2 | usage or configuration error (bad flag, missing key, unreadable file) |
//! | 3 | an API error nobody handled (HTTP error, unreachable server, unknown outcome) |
//! | 4 | a campaign finished but some rows failed and can be retried |
//! | 130 | interrupted (Ctrl-C) |
//!
//! Imports: the typed errors of the layers below (`client`, `sandbox`, `engine::script`)
//! to convert them; nothing above it imports anything but this type.

use crate::client::ClientError;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    /// Already formatted with file:line:col and the source line.
    #[error("{0}")]
    Script(String),
    #[error("{0}")]
    Api(#[from] ClientError),
    /// The API failed during a command's own work (not a script's).
    #[error("{context}: {source}")]
    ApiDuring {
        context: String,
        source: ClientError,
    },
    /// The API failed inside a script; the text carries the script location.
    #[error("{0}")]
    ScriptApi(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error("{0}")]
    Incomplete(String),
    #[error("interrupted")]
    Interrupted,
    /// Already told to the user where it happened; only the exit status is left to give.
    #[error("")]
    Reported(u8),
    /// A script stopped by Ctrl-C; the text says where.
    #[error("{0}")]
    ScriptInterrupted(String),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Error::Script(_) => 1,
            Error::Usage(_) | Error::Io { .. } | Error::Sandbox(_) => 2,
            Error::Api(_) | Error::ApiDuring { .. } | Error::ScriptApi(_) => 3,
            Error::Incomplete(_) => 4,
            Error::Interrupted | Error::ScriptInterrupted(_) => 130,
            Error::Reported(code) => *code,
        })
    }

    /// What to print on stderr. Script errors arrive fully rendered.
    pub fn render(&self) -> String {
        match self {
            Error::Script(t) | Error::ScriptApi(t) | Error::ScriptInterrupted(t) => {
                t.trim_end().to_string()
            }
            Error::Reported(_) => String::new(),
            other => format!("error: {other}"),
        }
    }
}

impl From<crate::engine::script::ScriptError> for Error {
    fn from(e: crate::engine::script::ScriptError) -> Self {
        use crate::engine::diagnostics::FailureKind;
        use crate::engine::script::ScriptError;
        match e {
            ScriptError::Unreadable { .. } => Error::Usage(e.to_string()),
            ScriptError::Compile(text) => Error::Script(text),
            ScriptError::Failed { kind, text } => match kind {
                FailureKind::Script => Error::Script(text),
                FailureKind::Api => Error::ScriptApi(text),
                FailureKind::Interrupted => Error::ScriptInterrupted(text),
            },
        }
    }
}

impl From<crate::campaign::operate::OperateError> for Error {
    fn from(e: crate::campaign::operate::OperateError) -> Self {
        use crate::campaign::operate::OperateError;
        match e {
            OperateError::Setup(text) => Error::Usage(text),
            OperateError::Api { context, source } => Error::ApiDuring { context, source },
        }
    }
}
