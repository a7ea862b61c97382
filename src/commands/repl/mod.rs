//! `zavu-script repl`: an interactive session against the API with the same `zavu` object,
//! helpers and error messages as scripts.
//!
//! This module owns the loop: read an input (one or more lines, until its brackets
//! balance), run it against one persistent `Scope` and an AST that keeps every `fn` defined
//! so far (the rhai-repl pattern: merge, evaluate, `clear_statements()`), show the result,
//! and carry on after any error. `:commands` are dispatched here too. The parts live beside
//! it: `frontend` (terminal or pipe), `input` (when an input is complete), `complete` and
//! `editor` (Tab), `help`, `render` (how results look), `history`, `interrupt` (Ctrl-C
//! while running) and `errors` (messages across inputs).
//!
//! The engine runs on this thread — never on a runtime worker — and reaches the network
//! only through the session's bridge. Nothing here builds HTTP or prints the API key.

mod api_docs;
mod api_docs_after;
mod api_docs_webhook;
mod api_rules;
mod complete;
mod context;
mod editor;
mod errors;
mod frontend;
mod help;
mod history;
mod input;
mod interrupt;
mod missing;
mod render;

use crate::client::DEFAULT_BASE_URL;
use crate::commands::output;
use crate::commands::session::Session;
use crate::config::{Config, ReplSettings, Target as ConfiguredTarget};
use crate::engine::diagnostics::{self, FailureKind};
use crate::engine::{self, HostOptions, StdSink};
use crate::error::Error;
use crate::memory::{Budget, Meter};
use crate::stop::Stop;
use complete::{Catalog, Names};
use frontend::{Frontend, Piped, Read, Terminal};
use input::Balance;
use interrupt::Interrupts;
use render::Style;
use rhai::{AST, Dynamic, Engine, Map, Scope};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use tokio::runtime::Runtime;

pub fn run(config: &Config, runtime: &Runtime, settings: &ReplSettings) -> Result<(), Error> {
    let interactive = std::io::stdin().is_terminal();
    let session = Session::open(config, runtime)?;
    let interrupts = Interrupts::install(runtime, session.stop().clone(), interactive);
    // The session runs on this thread; its budget bounds everything its inputs hold.
    let budget =
        Budget::arm_if(settings.limits.max_memory).map_err(|e| Error::Usage(e.to_string()))?;
    let memory = budget.as_ref().map(Budget::meter);
    let engine = engine::build(HostOptions {
        limits: settings.limits,
        // Campaigns and store:: work in a session as they do in scripts.
        state_dir: Some(config.state_dir()?.to_path_buf()),
        shared_state: config.state.postgres(),
        campaign: engine::CampaignDefaults {
            confirm: output::terminal_confirm(),
            ..Default::default()
        },
        sink: Arc::new(StdSink),
        api: Some(session.api.clone()),
        bridge: session.bridge.clone(),
        memory,
    });
    let mut repl = Repl {
        engine,
        scope: engine::new_scope(&[]),
        ast: AST::empty(),
        inputs: 0,
        sources: errors::Sources::default(),
        stop: session.stop().clone(),
        interrupts,
        out: Style::detect(std::io::stdout().is_terminal()),
        err: Style::detect(std::io::stderr().is_terminal()),
        json: config.json,
        helpers: None,
        memory,
        piped: !interactive,
        stop_at_error: !interactive && !settings.keep_going,
        failed: None,
    };
    let outcome = if interactive {
        let label = target_label(config, &session);
        if let Some(sb) = &session.sandbox {
            eprintln!(
                "Invitations' `url`s ({}/invite/…) open the invite page in a browser: click through a client's signup mid-session.",
                sb.base_url()
            );
        }
        eprintln!("Type :help for commands and the API; Tab completes; Ctrl-D or :quit leaves.");
        let catalog = repl.catalog();
        match Terminal::open(config, &label, catalog, repl.out) {
            Ok(mut term) => repl.run(&mut term),
            Err(e) => Err(e),
        }
    } else {
        repl.run(&mut Piped::new())
    };
    drop(repl);
    drop(budget);
    session.close(runtime);
    outcome
}

/// What the prompt says about where calls go: `sandbox`, or the key's mode (`live`,
/// `test`) and, away from the real API, the host. The key itself is never shown.
fn target_label(config: &Config, session: &Session) -> String {
    match &config.target {
        ConfiguredTarget::InProcessSandbox => "sandbox".into(),
        ConfiguredTarget::Remote(url) => {
            let key = &session.api.api_key;
            let mode = if key.is_live() {
                "live"
            } else if key.redacted().starts_with("zv_test_") {
                "test"
            } else {
                "custom key"
            };
            if url.trim_end_matches('/') == DEFAULT_BASE_URL.trim_end_matches('/') {
                mode.to_string()
            } else {
                let host = url::Url::parse(url)
                    .ok()
                    .and_then(|u| {
                        let h = u.host_str()?.to_string();
                        Some(match u.port() {
                            Some(p) => format!("{h}:{p}"),
                            None => h,
                        })
                    })
                    .unwrap_or_else(|| url.clone());
                format!("{mode} {host}")
            }
        }
    }
}

/// The variable `_` stands for (`_` itself is not a name Rhai accepts).
const LAST: &str = "__last";

enum Flow {
    Continue,
    Quit,
}

struct Repl {
    engine: Engine,
    scope: Scope<'static>,
    /// Every function defined so far; statements are cleared after each run.
    ast: AST,
    inputs: usize,
    sources: errors::Sources,
    stop: Arc<Stop>,
    interrupts: Interrupts,
    /// Styles for stdout and stderr, each coloured only on a terminal.
    out: Style,
    err: Style,
    json: bool,
    helpers: Option<help::HelperDocs>,
    /// The session's memory budget, when it has one.
    memory: Option<Meter>,
    /// Piped input: an error ends the session with its status — at once, or with
    /// `--keep-going` once the input is done (as `make -k` does).
    piped: bool,
    stop_at_error: bool,
    /// The first error of the session, for the exit status.
    failed: Option<u8>,
}

impl Repl {
    fn helpers(&mut self) -> &help::HelperDocs {
        self.helpers
            .get_or_insert_with(|| help::HelperDocs::from_engine(&self.engine))
    }

    fn catalog(&mut self) -> Catalog {
        let helpers = self.helpers().clone();
        let mut globals: Vec<String> = helpers.globals.iter().map(|f| f.name.clone()).collect();
        globals.push("zavu_client".into());
        globals.dedup();
        Catalog {
            commands: help::COMMANDS.iter().map(|(c, _)| *c).collect(),
            namespaces: helpers
                .namespaces
                .iter()
                .map(|(ns, fns)| (ns.clone(), fns.iter().map(|f| f.name.clone()).collect()))
                .collect(),
            globals,
        }
    }

    /// Reads inputs until Ctrl-D, `:quit` or the end of piped input.
    fn run(&mut self, front: &mut dyn Frontend) -> Result<(), Error> {
        front.refresh(self.names());
        loop {
            let mut buf = String::new();
            let input = loop {
                match front.read(&buf)? {
                    Read::Eof => {
                        if !buf.trim().is_empty() {
                            eprintln!(
                                "{}",
                                self.err
                                    .red("error: the input ended inside an open bracket or string")
                            );
                            self.fail(1);
                        }
                        return self.outcome();
                    }
                    Read::Interrupted => break None,
                    Read::Line(line) => {
                        if buf.is_empty()
                            && (line.trim_start().starts_with(':')
                                || history::recall(&line).is_some())
                        {
                            break Some(line);
                        }
                        buf.push_str(&line);
                        match input::balance(&buf) {
                            Balance::Complete => break Some(buf),
                            Balance::Incomplete => buf.push('\n'),
                            Balance::Stray(stray) => {
                                // The line editor refuses these; piped input gets here.
                                front.remember(&buf, self.err);
                                eprintln!("{} {stray}", self.err.red("error:"));
                                self.fail(1);
                                break None;
                            }
                        }
                    }
                }
            };
            if let Some(input) = input
                && let Flow::Quit = self.accept(&input, front)
            {
                return self.outcome();
            }
            if self.stop_at_error && self.failed.is_some() {
                eprintln!(
                    "{}",
                    self.err
                        .dim("stopped at the first error (repl --keep-going goes on past errors)")
                );
                return self.outcome();
            }
        }
    }

    /// Notes a failure: the session's exit status is its first one's.
    fn fail(&mut self, code: u8) {
        self.failed.get_or_insert(code);
    }

    /// How the session ends: 0, or for piped input the status of its first error (a person
    /// at a terminal has seen each error and gone on).
    fn outcome(&self) -> Result<(), Error> {
        match self.failed {
            Some(code) if self.piped => Err(Error::Reported(code)),
            _ => Ok(()),
        }
    }

    fn accept(&mut self, input: &str, front: &mut dyn Frontend) -> Flow {
        if input.trim().is_empty() {
            return Flow::Continue;
        }
        let input = match history::recall(input) {
            Some(r) => match history::resolve(r, &front.entries()) {
                Ok(entry) => {
                    eprintln!("{}", self.err.dim(&entry));
                    entry
                }
                Err(e) => {
                    eprintln!("{} {e}", self.err.red("error:"));
                    return Flow::Continue;
                }
            },
            None => input.to_string(),
        };
        front.remember(&input, self.err);
        if let Some(cmd) = input.trim_start().strip_prefix(':') {
            return self.command(cmd.trim(), front);
        }
        self.inputs += 1;
        // Named by its `:history` number, so `!N` finds the input an error names.
        let entries = front.entries();
        let name = match entries.iter().rposition(|e| *e == input) {
            Some(i) => format!("<input {}>", i + 1),
            None => "<input>".to_string(),
        };
        let code = input::with_last_result(&input::strip_continuations(&input), LAST);
        self.eval(&name, &code);
        front.refresh(self.names());
        Flow::Continue
    }

    /// Compiles and runs one input or file into the session; says whether it succeeded.
    fn eval(&mut self, name: &str, text: &str) -> bool {
        let mut ast = match self.engine.compile_with_scope(&self.scope, text) {
            Ok(ast) => ast,
            Err(e) => {
                eprint!(
                    "{}",
                    self.paint_error(&diagnostics::render_parse(name, text, &e))
                );
                self.fail(1);
                return false;
            }
        };
        ast.set_source(name);
        self.sources
            .add(name, text, ast.iter_functions().map(|f| f.name.to_string()));
        self.ast += ast;
        self.stop.reset();
        let result = {
            let _running = self.interrupts.running();
            self.engine
                .eval_ast_with_scope::<Dynamic>(&mut self.scope, &self.ast)
        };
        self.ast.clear_statements();
        // A stop that ended this input must not end what comes next (`:vars`, rendering).
        self.stop.reset();
        match result {
            Ok(value) => {
                if let Some(said) = missing::after_read(&self.engine, &mut self.scope, text, &value)
                {
                    self.fail(1);
                    eprintln!("{} {name}: {said}", self.err.red("error:"));
                    return false;
                }
                self.show(&value);
                // `_` is the last result that was something.
                if !value.is_unit() {
                    self.scope.set_value(LAST, value);
                }
                true
            }
            Err(err) => {
                self.fail(match diagnostics::classify(&err) {
                    FailureKind::Script => 1,
                    FailureKind::Api => 3,
                    FailureKind::Interrupted => 130,
                });
                let memory_stop = diagnostics::is_memory_stop(&err);
                if let Some(said) = diagnostics::interruption(&err) {
                    eprintln!(
                        "{} {name} stopped; the session goes on",
                        self.err.red(&format!("{said}."))
                    );
                } else if diagnostics::classify(&err) == FailureKind::Interrupted {
                    eprintln!(
                        "{} {name} stopped; the session goes on",
                        self.err.red(&format!(
                            "{}:",
                            self.stop
                                .reason()
                                .unwrap_or_else(|| interrupt::REASON.into())
                        ))
                    );
                } else {
                    let text = self.sources.render(name, text, err);
                    eprint!("{}", self.paint_error(&text));
                }
                if memory_stop {
                    self.free_memory();
                }
                false
            }
        }
    }

    /// After an input stopped over the memory budget, the session's variables still hold
    /// what it built, and the next input would stop at once: let them go, and say so.
    fn free_memory(&mut self) {
        let Some(meter) = self.memory else {
            return;
        };
        self.scope = engine::new_scope(&[]);
        eprintln!(
            "{}",
            self.err.dim(&format!(
                "the session's variables held more than {}; they were cleared (functions are kept)",
                crate::memory::human(meter.limit())
            ))
        );
    }

    fn paint_error(&self, rendered: &str) -> String {
        match rendered.strip_prefix("error:") {
            Some(rest) => format!("{}{rest}", self.err.red("error:")),
            None => rendered.to_string(),
        }
    }

    fn show(&self, value: &Dynamic) {
        let text = if self.json {
            if value.is_unit() {
                return;
            }
            engine::convert::to_json(value)
                .ok()
                .and_then(|j| serde_json::to_string_pretty(&j).ok())
                .map(|t| t + "\n")
                .unwrap_or_else(|| format!("{value}\n"))
        } else {
            match render::value(value, self.out, &|v| self.describe(v)) {
                Some(t) => t,
                None => return,
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Variables in scope, oldest first; a name shadowed by a later `let` once, with its
    /// latest value.
    fn variables(&self) -> Vec<(&str, bool, &Dynamic)> {
        let mut seen = std::collections::HashSet::new();
        let mut vars: Vec<_> = self
            .scope
            .iter_raw()
            .filter(|(name, _, _)| *name != LAST && seen.insert(*name))
            .collect();
        vars.reverse();
        vars
    }

    /// A value of a registered type as scripts see it in `print`: its `to_string`.
    fn describe(&self, value: &Dynamic) -> String {
        let mut scope = Scope::new();
        scope.push_dynamic("value", value.clone());
        let described = self
            .engine
            .eval_with_scope::<String>(&mut scope, "to_string(value)")
            .unwrap_or_default();
        if !described.is_empty() && described != value.type_name() {
            return described;
        }
        // No `to_string` of its own: Rhai would show the Rust path.
        match value.type_name().rsplit("::").next() {
            Some("InvitationIter") => {
                "invitations, fetched as a loop asks: `for inv in zavu.invitations.all(…) { … }`"
                    .into()
            }
            Some(short) => format!("<{short}>"),
            None => value.type_name().to_string(),
        }
    }

    fn names(&self) -> Names {
        let mut names = Names::default();
        for (name, _, value) in self.variables() {
            names.variables.push(name.to_string());
            if let Some(m) = value.read_lock::<Map>() {
                names
                    .fields
                    .insert(name.to_string(), m.keys().map(|k| k.to_string()).collect());
            }
        }
        names.functions = self
            .ast
            .iter_functions()
            .filter(|f| !f.name.starts_with("anon$"))
            .map(|f| f.name.to_string())
            .collect();
        names
    }

    fn command(&mut self, cmd: &str, front: &mut dyn Frontend) -> Flow {
        let (name, arg) = match cmd.split_once(char::is_whitespace) {
            Some((n, a)) => (n, a.trim()),
            None => (cmd, ""),
        };
        match name {
            "quit" | "q" | "exit" => return Flow::Quit,
            "help" | "h" | "?" => {
                let text = if arg.is_empty() {
                    Some(help::overview(self.helpers()))
                } else {
                    help::topic(arg, self.helpers())
                };
                match text {
                    Some(t) => print!("{t}"),
                    None => {
                        let hint = help::nearest_topic(arg, self.helpers())
                            .map(|t| format!(" — did you mean `:help {t}`?"))
                            .unwrap_or_default();
                        eprintln!(
                            "{} no help for `{arg}`{hint} (`:help` lists what there is)",
                            self.err.red("error:")
                        );
                        self.fail(1);
                    }
                }
            }
            "vars" => self.vars(),
            "load" => self.load(arg),
            "history" => {
                for (i, entry) in front.entries().iter().enumerate() {
                    let shown = entry.replace('\n', "\n      ");
                    println!("{:>4}  {shown}", i + 1);
                }
            }
            "clear" => {
                self.scope = engine::new_scope(&[]);
                self.ast = AST::empty();
                self.sources.clear();
                eprintln!("{}", self.err.dim("variables and functions forgotten"));
            }
            other => {
                let names: Vec<&str> = help::COMMANDS
                    .iter()
                    .map(|(c, _)| c.trim_start_matches(':'))
                    .collect();
                let hint = crate::api::validate::suggest(other, &names)
                    .map(|s| format!(" — did you mean `:{s}`?"))
                    .unwrap_or_default();
                eprintln!(
                    "{} unknown command `:{other}`{hint} (`:help` lists them)",
                    self.err.red("error:")
                );
                self.fail(2);
            }
        }
        let _ = std::io::stdout().flush();
        front.refresh(self.names());
        Flow::Continue
    }

    fn vars(&self) {
        let mut any = false;
        for (name, constant, value) in self.variables() {
            any = true;
            let preview = render::value(value, Style::default(), &|v| self.describe(v))
                .map(|t| t.lines().next().unwrap_or_default().to_string())
                .unwrap_or_else(|| "()".into());
            let preview = if preview.chars().count() > 60 {
                format!("{}…", preview.chars().take(59).collect::<String>())
            } else {
                preview
            };
            println!(
                "{}{name}: {} = {preview}",
                if constant { "const " } else { "" },
                self.engine.map_type_name(value.type_name())
            );
        }
        let mut functions: Vec<_> = self
            .ast
            .iter_functions()
            .filter(|f| !f.name.starts_with("anon$"))
            .collect();
        functions.sort_by(|a, b| a.name.cmp(b.name));
        for f in functions {
            any = true;
            println!("fn {}({})", f.name, f.params.join(", "));
        }
        if !any {
            println!("(nothing defined yet)");
        }
    }

    fn load(&mut self, arg: &str) {
        let path = arg.trim_matches(|c| c == '"' || c == '\'');
        if path.is_empty() {
            eprintln!("{} usage: :load FILE", self.err.red("error:"));
            return;
        }
        let text = match engine::script::read(Path::new(path)) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}", self.paint_error(&Error::from(e).render()));
                return;
            }
        };
        if self.eval(path, &text) {
            eprintln!("{}", self.err.dim(&format!("loaded {path}")));
        }
    }
}
