//! The `check` front door: compile a script without running it, and — when an API target
//! is configured (a key, or `--sandbox`) — hold every template send the script writes out
//! against the project's templates, the way the API will: a body for the channel, exactly
//! the variables it declares, a known template. Each problem is reported at its `send`,
//! with `file:line:col` and a caret; without a target only the compile is checked, and
//! the note says so.

use super::session::Session;
use crate::api::FieldError;
use crate::api::message::resolve_channel;
use crate::api::validate::template_send;
use crate::client::{ApiClient, ClientError};
use crate::config::{Config, Globals};
use crate::engine::api_error::ScriptApiError;
use crate::engine::bridge::Bridge;
use crate::engine::template_sends::{self, TemplateSendSite};
use crate::engine::{self, HostOptions, StdSink, diagnostics, script};
use crate::error::Error;
use crate::stop::Stop;
use rhai::EvalAltResult;
use std::path::Path;
use std::sync::Arc;
use tokio::runtime::Runtime;

const SEND: &str = "zavu.messages.send";

pub fn check(globals: &Globals, runtime: &Runtime, file: &Path) -> Result<(), Error> {
    let name = file.display().to_string();
    let text = script::read(file)?;
    let bridge = Arc::new(Bridge::new(
        runtime.handle().clone(),
        Arc::new(Stop::default()),
    ));
    let engine = engine::build(HostOptions {
        limits: Default::default(),
        state_dir: None,
        shared_state: None,
        campaign: Default::default(),
        sink: Arc::new(StdSink),
        api: None,
        bridge,
        memory: None,
    });
    let ast = script::compile(&engine, &name, &text)?;
    let sites = template_sends::find(&ast);
    if !sites.is_empty() {
        let problems = check_sends(globals, runtime, &sites)?;
        if !problems.is_empty() {
            let rendered: Vec<String> = problems
                .into_iter()
                .map(|(pos, errors)| {
                    let err = EvalAltResult::ErrorRuntime(
                        rhai::Dynamic::from(ScriptApiError::invalid_params(SEND, &errors)),
                        pos,
                    );
                    diagnostics::render(&name, &text, &err)
                })
                .collect();
            return Err(Error::Script(rendered.join("\n")));
        }
    }
    eprintln!("{name}: ok");
    Ok(())
}

/// The template sends' problems, by place; none when there is no target to ask.
fn check_sends(
    globals: &Globals,
    runtime: &Runtime,
    sites: &[TemplateSendSite],
) -> Result<Vec<(rhai::Position, Vec<FieldError>)>, Error> {
    let unchecked = |why: &str| {
        eprintln!(
            "note: {} template send{} not checked against the project's templates: {why}",
            sites.len(),
            if sites.len() == 1 { "" } else { "s" }
        );
        Ok(vec![])
    };
    let config = match Config::resolve(globals) {
        Ok(c) => c,
        Err(e) => return unchecked(&e.to_string()),
    };
    if config.key_for_target().is_err() {
        return unchecked("no API key (set ZAVUDEV_API_KEY or --api-key-file, or add --sandbox)");
    }
    let session = Session::open(&config, runtime)?;
    let client = ApiClient::new(session.api.clone())
        .map_err(|e| Error::Usage(format!("--base-url / ZAVUDEV_BASE_URL: {e}")))?;
    let mut problems = vec![];
    for site in sites {
        let fetched = runtime.block_on(client.template_for_send(&site.template_id));
        let template = match fetched {
            Ok(t) => t,
            Err(ClientError::Api(e)) if e.status == 404 => {
                problems.push((
                    site.position,
                    vec![FieldError::new(
                        &["content", "templateId"],
                        format!(
                            "no template {:?} in this project ({})",
                            site.template_id, e.message
                        ),
                    )],
                ));
                continue;
            }
            Err(e) => {
                session.close(runtime);
                return unchecked(&format!("the API did not answer ({e})"));
            }
        };
        let channel = resolve_channel(
            site.channel.as_deref(),
            site.to.as_deref().unwrap_or_default(),
            "template",
        );
        if let Err(errors) = template_send(&template, &channel, &site.content) {
            problems.push((site.position, errors));
        }
    }
    session.close(runtime);
    Ok(problems)
}
