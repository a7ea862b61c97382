//! Where inputs come from and where they are remembered: a terminal with a line editor
//! (prompts, completion, history on disk), or piped stdin read line by line (no prompts,
//! history in memory only). The REPL loop sees both through [`Frontend`].
//!
//! It reads and remembers; it never evaluates anything.

use super::complete::{Catalog, Names};
use super::editor;
use super::history;
use super::render::Style;
use crate::config::Config;
use crate::error::Error;
use std::io::BufRead;
use std::path::PathBuf;

/// One read from the person (or the pipe).
pub enum Read {
    Line(String),
    Interrupted,
    Eof,
}

/// Where inputs come from and where they are remembered: a terminal with a line editor,
/// or piped stdin read line by line.
pub trait Frontend {
    /// Reads a line; `pending` holds the earlier lines of an unfinished input.
    fn read(&mut self, pending: &str) -> Result<Read, Error>;
    /// Remembered inputs, oldest first.
    fn entries(&self) -> Vec<String>;
    /// Remembers an input, if history may hold it.
    fn remember(&mut self, input: &str, style: Style);
    /// What completion should know after an input ran.
    fn refresh(&mut self, _names: Names) {}
}

fn note_skipped(skip: history::Skip, style: Style) {
    if skip == history::Skip::ApiKey {
        eprintln!(
            "{}",
            style.dim("(not kept in history: the input holds an API key literal)")
        );
    }
}

pub struct Terminal {
    rl: rustyline::Editor<editor::ReplHelper, rustyline::history::FileHistory>,
    prompt: (String, String),
    continuation: (String, String),
    history_file: Option<PathBuf>,
    hinted_exit: bool,
}

impl Terminal {
    pub fn open(
        config: &Config,
        label: &str,
        catalog: Catalog,
        style: Style,
    ) -> Result<Terminal, Error> {
        use rustyline::{CompletionType, Config as EditorConfig};
        let editor_config = EditorConfig::builder()
            .auto_add_history(false)
            .max_history_size(history::MAX_ENTRIES)
            .and_then(|b| b.history_ignore_space(true).history_ignore_dups(true))
            .map(|b| b.completion_type(CompletionType::List).build())
            .map_err(|e| Error::Usage(format!("cannot set up the line editor: {e}")))?;
        let mut rl = rustyline::Editor::with_config(editor_config)
            .map_err(|e| Error::Usage(format!("cannot set up the line editor: {e}")))?;
        rl.set_helper(Some(editor::ReplHelper::new(catalog)));
        let history_file = match config.state_dir() {
            Ok(dir) => {
                let file = history::path(dir);
                match history::prepare(&file) {
                    Ok(()) => {
                        // A new (empty) file has nothing to load; that is not an error.
                        let _ = rl.load_history(&file);
                        Some(file)
                    }
                    Err(e) => {
                        eprintln!(
                            "zavu-script: history off: cannot use {}: {e}",
                            file.display()
                        );
                        None
                    }
                }
            }
            Err(e) => {
                eprintln!("zavu-script: history off: {}", e.render());
                None
            }
        };
        let raw = format!("zavu[{label}]> ");
        let cont_raw = "...> ".to_string();
        let styled = style.cyan(&style.bold(raw.trim_end())) + " ";
        let cont_styled = style.dim(cont_raw.trim_end()) + " ";
        Ok(Terminal {
            rl,
            prompt: (raw, styled),
            continuation: (cont_raw, cont_styled),
            history_file,
            hinted_exit: false,
        })
    }
}

impl Frontend for Terminal {
    fn read(&mut self, pending: &str) -> Result<Read, Error> {
        use rustyline::error::ReadlineError;
        if let Some(h) = self.rl.helper_mut() {
            h.pending = pending.to_string();
        }
        let prompt = if pending.is_empty() {
            &self.prompt
        } else {
            &self.continuation
        };
        match self.rl.readline(prompt) {
            Ok(line) => Ok(Read::Line(line)),
            Err(ReadlineError::Interrupted) => {
                if !self.hinted_exit {
                    self.hinted_exit = true;
                    eprintln!("(Ctrl-D or :quit leaves)");
                }
                Ok(Read::Interrupted)
            }
            Err(ReadlineError::Eof) => Ok(Read::Eof),
            Err(e) => Err(Error::Usage(format!("cannot read from the terminal: {e}"))),
        }
    }

    fn entries(&self) -> Vec<String> {
        self.rl.history().iter().cloned().collect()
    }

    fn remember(&mut self, input: &str, style: Style) {
        if let Err(skip) = history::admit(input) {
            note_skipped(skip, style);
            return;
        }
        let _ = self.rl.add_history_entry(input);
        if let Some(file) = &self.history_file
            && let Err(e) = self.rl.append_history(file)
        {
            eprintln!(
                "zavu-script: history off: cannot write {}: {e}",
                file.display()
            );
            self.history_file = None;
        }
    }

    fn refresh(&mut self, names: Names) {
        if let Some(h) = self.rl.helper_mut() {
            h.names = names;
        }
    }
}

/// Piped stdin: no prompts, no line editor, history in memory only.
pub struct Piped {
    stdin: std::io::StdinLock<'static>,
    entries: Vec<String>,
}

impl Piped {
    pub fn new() -> Piped {
        Piped {
            stdin: std::io::stdin().lock(),
            entries: vec![],
        }
    }
}

impl Frontend for Piped {
    fn read(&mut self, _pending: &str) -> Result<Read, Error> {
        let mut line = String::new();
        match self.stdin.read_line(&mut line) {
            Ok(0) => Ok(Read::Eof),
            Ok(_) => {
                let line = line.strip_suffix('\n').unwrap_or(&line);
                Ok(Read::Line(
                    line.strip_suffix('\r').unwrap_or(line).to_string(),
                ))
            }
            Err(e) => Err(Error::Usage(format!("cannot read standard input: {e}"))),
        }
    }

    fn entries(&self) -> Vec<String> {
        self.entries.clone()
    }

    fn remember(&mut self, input: &str, style: Style) {
        match history::admit(input) {
            Ok(()) if self.entries.last().is_some_and(|l| l == input) => {}
            Ok(()) => self.entries.push(input.to_string()),
            Err(skip) => note_skipped(skip, style),
        }
    }
}
