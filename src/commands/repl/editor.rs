//! The rustyline glue: completion through [`super::complete`], file names for `:load` and
//! inside strings, and a validator that refuses a line with a stray closer (the message
//! shows under the line, which stays there to be fixed).
//!
//! Continuation is not decided here: the REPL reads one line at a time with its own
//! `...> ` prompt (rustyline has no continuation prompt), and tells this helper the lines
//! already entered so completion and the stray-closer check see the whole input.

use super::complete::{Catalog, Names};
use super::context;
use super::input::{self, Balance};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

pub struct ReplHelper {
    pub catalog: Catalog,
    pub names: Names,
    /// Earlier lines of the input being entered, each followed by `\n`.
    pub pending: String,
    files: FilenameCompleter,
}

impl ReplHelper {
    pub fn new(catalog: Catalog) -> Self {
        ReplHelper {
            catalog,
            names: Names::default(),
            pending: String::new(),
            files: FilenameCompleter::new(),
        }
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let whole = format!("{}{}", self.pending, &line[..pos]);
        let offset = self.pending.len();
        let ctx = context::context(&whole);
        if let context::Context::Path { .. } = ctx {
            return self.files.complete_path(line, pos);
        }
        let start = match &ctx {
            context::Context::Command { start, .. }
            | context::Context::HelpTopic { start, .. }
            | context::Context::Path { start, .. }
            | context::Context::Resource { start, .. }
            | context::Context::Method { start, .. }
            | context::Context::NamespaceFn { start, .. }
            | context::Context::ParamKey { start, .. }
            | context::Context::ParamValue { start, .. }
            | context::Context::Field { start, .. }
            | context::Context::Name { start, .. } => *start,
            context::Context::Nothing => return Ok((pos, vec![])),
        };
        let candidates = self
            .catalog
            .candidates(&ctx, &self.names)
            .into_iter()
            .map(|c| Pair {
                display: c.display,
                replacement: c.replacement,
            })
            .collect();
        Ok((start.saturating_sub(offset).min(pos), candidates))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let line = ctx.input();
        if line.trim_start().starts_with(':') && self.pending.is_empty() {
            return Ok(ValidationResult::Valid(None));
        }
        let whole = format!("{}{line}", self.pending);
        Ok(match input::balance(&whole) {
            Balance::Stray(stray) => ValidationResult::Invalid(Some(format!("  <- {stray}"))),
            _ => ValidationResult::Valid(None),
        })
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Helper for ReplHelper {}
