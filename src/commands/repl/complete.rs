//! What Tab offers where the cursor is (see [`super::context`]): REPL commands, resources
//! and methods from `zavu::RESOURCES`, parameter keys from the table in [`super::help`],
//! helper namespaces and their functions, and the names the session has defined —
//! refreshed after each input. Pure: no terminal, no engine; the rustyline glue lives in
//! `editor.rs`.

use super::api_docs;
use super::context::{Context, is_ident_byte};
use crate::engine::modules::zavu::RESOURCES;
use std::collections::BTreeMap;

/// One completion: what the list shows, and what replaces the word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub display: String,
    pub replacement: String,
}

impl Candidate {
    fn new(display: impl Into<String>, replacement: impl Into<String>) -> Self {
        Candidate {
            display: display.into(),
            replacement: replacement.into(),
        }
    }
}

/// What the session knows that completion offers, refreshed after each input.
#[derive(Clone, Debug, Default)]
pub struct Names {
    /// Variables in scope.
    pub variables: Vec<String>,
    /// Keys of the variables that hold maps.
    pub fields: BTreeMap<String, Vec<String>>,
    /// Functions the session's inputs defined.
    pub functions: Vec<String>,
}

/// The fixed part: REPL commands and helper namespaces with their functions.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub commands: Vec<&'static str>,
    pub namespaces: BTreeMap<String, Vec<String>>,
    /// Global helper functions (`env`, `sleep`, `zavu_client`, …).
    pub globals: Vec<String>,
}

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "break", "continue",
    "return", "try", "catch", "throw", "true", "false", "switch", "print", "debug", "type_of",
];

fn by_prefix<'a>(
    word: &'a str,
    items: impl IntoIterator<Item = (String, String)> + 'a,
) -> impl Iterator<Item = Candidate> + 'a {
    items
        .into_iter()
        .filter(move |(name, _)| name.starts_with(word))
        .map(|(d, r)| Candidate::new(d, r))
}

fn is_ident(s: &str) -> bool {
    s.bytes().all(is_ident_byte) && !s.starts_with(|c: char| c.is_ascii_digit())
}

impl Catalog {
    /// Candidates for a context; `Path` is left to the file-name completer.
    pub fn candidates(&self, ctx: &Context, names: &Names) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = match ctx {
            Context::Command { word, .. } => by_prefix(
                word,
                self.commands.iter().map(|c| (c.to_string(), c.to_string())),
            )
            .collect(),
            Context::HelpTopic { word, .. } => {
                let mut topics: Vec<String> = self.commands.iter().map(|c| c.to_string()).collect();
                for spec in RESOURCES {
                    topics.push(format!("zavu.{}", spec.name));
                    for (m, _) in spec.methods {
                        topics.push(format!("zavu.{}.{m}", spec.name));
                    }
                }
                for (ns, fns) in &self.namespaces {
                    topics.push(format!("{ns}::"));
                    topics.extend(fns.iter().map(|f| format!("{ns}::{f}")));
                }
                topics.extend(self.globals.iter().cloned());
                by_prefix(word, topics.into_iter().map(|t| (t.clone(), t))).collect()
            }
            Context::Path { .. } | Context::Nothing => vec![],
            Context::Resource { word, .. } => by_prefix(
                word,
                RESOURCES
                    .iter()
                    .map(|r| (r.name.to_string(), format!("{}.", r.name))),
            )
            .collect(),
            Context::Method { resource, word, .. } => {
                let methods = RESOURCES
                    .iter()
                    .find(|r| r.name == resource)
                    .map(|r| r.methods)
                    .unwrap_or(&[]);
                by_prefix(
                    word,
                    methods
                        .iter()
                        .map(|(m, _)| (m.to_string(), format!("{m}("))),
                )
                .collect()
            }
            Context::NamespaceFn {
                namespace, word, ..
            } => by_prefix(
                word,
                self.namespaces
                    .get(namespace)
                    .into_iter()
                    .flatten()
                    .map(|f| (f.clone(), format!("{f}("))),
            )
            .collect(),
            Context::ParamValue {
                resource,
                method,
                key,
                word,
                ..
            } => by_prefix(
                word,
                api_docs::param_values(resource, method, key)
                    .into_iter()
                    .map(|v| (v.to_string(), format!("{v}\""))),
            )
            .collect(),
            Context::ParamKey {
                resource,
                method,
                word,
                present,
                after_id,
                within,
                ..
            } => by_prefix(
                word,
                match within {
                    Some(key) => api_docs::nested_keys(resource, method, key),
                    None => api_docs::param_keys(resource, method),
                }
                .into_iter()
                // After `update(id, #{`, the id key (listed first) is already given.
                .skip(usize::from(*after_id && within.is_none()))
                .filter(|k| !present.iter().any(|p| p == k))
                .map(|k| {
                    let written = if is_ident(k) {
                        k.to_string()
                    } else {
                        format!("{k:?}")
                    };
                    (k.to_string(), format!("{written}: "))
                }),
            )
            .collect(),
            Context::Field { var, word, .. } => by_prefix(
                word,
                names
                    .fields
                    .get(var)
                    .into_iter()
                    .flatten()
                    .filter(|k| is_ident(k))
                    .map(|k| (k.clone(), k.clone())),
            )
            .collect(),
            Context::Name { word, .. } => {
                if word.is_empty() {
                    return vec![];
                }
                let mut items: Vec<(String, String)> = vec![];
                items.extend(names.variables.iter().map(|v| (v.clone(), v.clone())));
                items.push(("zavu".into(), "zavu.".into()));
                items.extend(
                    names
                        .functions
                        .iter()
                        .chain(&self.globals)
                        .map(|f| (f.clone(), format!("{f}("))),
                );
                items.extend(
                    self.namespaces
                        .keys()
                        .map(|ns| (format!("{ns}::"), format!("{ns}::"))),
                );
                items.extend(KEYWORDS.iter().map(|k| (k.to_string(), k.to_string())));
                by_prefix(word, items).collect()
            }
        };
        // Helper namespaces list a name once per overload; show each once.
        let mut seen = std::collections::HashSet::new();
        out.retain(|c| seen.insert(c.replacement.clone()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::repl::context::context;

    fn catalog() -> Catalog {
        Catalog {
            commands: vec![":help", ":history", ":load", ":quit", ":vars", ":clear"],
            namespaces: [(
                "csv".to_string(),
                vec!["read".to_string(), "write".to_string(), "write".to_string()],
            )]
            .into_iter()
            .collect(),
            globals: vec!["sleep".into(), "env".into()],
        }
    }

    fn replacements(text: &str, names: &Names) -> Vec<String> {
        catalog()
            .candidates(&context(text), names)
            .into_iter()
            .map(|c| c.replacement)
            .collect()
    }

    #[test]
    fn values_and_nested_keys() {
        let names = Names::default();
        assert_eq!(
            replacements(r#"zavu.invitations.list(#{ status: "p"#, &names),
            ["pending\""]
        );
        assert_eq!(
            replacements(r#"zavu.messages.send(#{ channel: "wh"#, &names),
            ["whatsapp\""]
        );
        assert_eq!(
            replacements(
                r#"zavu.messages.send(#{ to: t, content: #{ templateV"#,
                &names
            ),
            ["templateVariables: "]
        );
    }

    #[test]
    fn candidates_for_each_context() {
        let names = Names {
            variables: vec!["invites".into(), "ARGS".into()],
            fields: [(
                "inv".to_string(),
                vec!["clientEmail".to_string(), "id".to_string()],
            )]
            .into_iter()
            .collect(),
            functions: vec!["invite_all".into()],
        };
        assert_eq!(replacements("zavu.inv", &names), ["invitations."]);
        assert_eq!(
            replacements("zavu.invitations.", &names),
            ["create(", "get(", "list(", "cancel(", "all("]
        );
        assert_eq!(
            replacements("zavu.invitations.create(#{ client", &names),
            ["clientName: ", "clientEmail: ", "clientPhone: "]
        );
        assert_eq!(
            replacements(
                "zavu.invitations.create(#{ clientName: \"A\", client",
                &names
            ),
            ["clientEmail: ", "clientPhone: "]
        );
        assert_eq!(
            replacements("zavu.messages.send(#{ Zav", &names),
            ["\"Zavu-Sender\": "]
        );
        assert_eq!(
            replacements("zavu.invitations.list(#{ ", &names),
            ["status: ", "limit: ", "cursor: "]
        );
        assert_eq!(replacements("csv::w", &names), ["write("]);
        assert_eq!(replacements("inv", &names), ["invites", "invite_all("]);
        assert_eq!(replacements("cs", &names), ["csv::"]);
        assert_eq!(replacements("inv.cl", &names), ["clientEmail"]);
        assert_eq!(replacements(":h", &names), [":help", ":history"]);
        assert!(
            replacements(":help zavu.invitations.cr", &names)
                .contains(&"zavu.invitations.create".to_string())
        );
    }
}
