//! The front doors, one file or folder each, and the one `execute` match that picks one.
//!
//! `run` runs a script file once, `check` compiles one (and holds its template sends
//! against the project's templates), `campaign` looks after campaigns in the journal,
//! `repl` is the interactive session, `cron` the scheduler, `listen` the webhook receiver,
//! `state` migrates and shows the shared state, `sandbox` serves the built-in
//! imitation of the API. Each takes plain settings from [`crate::config`] (never clap
//! types), opens a [`session`] when it talks to the API, and prints through [`output`].
//! Doors sit on top of everything else: nothing below `commands` imports from here.
//!
//! Imports: `config` and every layer below it. Must not import `cli`: clap types stop at
//! `config`.

mod campaign;
mod check;
mod cron;
mod listen;
pub mod output;
mod repl;
mod run;
mod sandbox;
pub mod session;
mod signals;
mod state;

use crate::config::{Command, Config, Invocation};
use crate::error::Error;
use tokio::runtime::Runtime;

pub fn execute(invocation: Invocation, runtime: &Runtime) -> Result<(), Error> {
    let Invocation { globals, command } = invocation;
    match command {
        Command::Run(settings) => run::run(&Config::resolve(&globals)?, runtime, &settings),
        Command::Check { file } => check::check(&globals, runtime, &file),
        Command::Campaign(action) => {
            campaign::execute(&Config::resolve(&globals)?, runtime, &action)
        }
        // The crontab is checked before the globals are resolved: `--test` and `--next`
        // need no key, target or state directory.
        Command::Cron(settings) => cron::execute(&globals, runtime, &settings),
        Command::Listen(settings) => {
            listen::execute(&Config::resolve(&globals)?, runtime, &settings)
        }
        Command::Repl(settings) => repl::run(&Config::resolve(&globals)?, runtime, &settings),
        Command::State(action) => state::execute(&Config::resolve(&globals)?, runtime, &action),
        Command::Sandbox(settings) => {
            sandbox::serve(&Config::resolve(&globals)?, runtime, &settings)
        }
    }
}
