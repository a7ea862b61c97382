//! `:help`: the REPL's commands, the `zavu` API and the helper namespaces, from the same
//! tables the code runs on — method forms from `zavu::RESOURCES`, parameters and their
//! rules from [`super::api_docs`], helper docs from the engine's own function metadata.
//!
//! It formats text and nothing else; it never calls the API.

use super::api_docs::{MethodDoc, method};
use crate::engine::modules::zavu::RESOURCES;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The REPL's commands and what they do, for `:help` and completion.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        ":help",
        "this overview; `:help TOPIC` for zavu.<resource>[.<method>], a namespace (csv::) or a function (csv::read)",
    ),
    (":vars", "the variables and functions this session defined"),
    (
        ":load",
        "`:load FILE` runs a script into the session; its variables and functions stay",
    ),
    (
        ":history",
        "the inputs remembered (`!!` repeats the last one, `!N` the Nth)",
    ),
    (
        ":clear",
        "forget this session's variables and functions (the API is untouched)",
    ),
    (":quit", "leave (Ctrl-D does too)"),
];

/// A helper function as the engine describes it.
#[derive(Clone, Debug, Default)]
pub struct FnDoc {
    pub name: String,
    pub signature: String,
    pub doc: Vec<String>,
}

/// The helper namespaces (`csv::`, `json::`, …) and documented global functions, read
/// from the engine's metadata so that they never drift from what is registered.
#[derive(Clone, Debug, Default)]
pub struct HelperDocs {
    pub namespaces: BTreeMap<String, Vec<FnDoc>>,
    pub globals: Vec<FnDoc>,
}

impl HelperDocs {
    pub fn from_engine(engine: &rhai::Engine) -> HelperDocs {
        let json = engine
            .gen_fn_metadata_to_json(false)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .unwrap_or_default();
        let fns = |v: &serde_json::Value| -> Vec<FnDoc> {
            v["functions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| {
                    Some(FnDoc {
                        name: f["name"].as_str()?.to_string(),
                        signature: f["signature"].as_str().unwrap_or_default().to_string(),
                        doc: f["docComments"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|d| d.as_str())
                            .flat_map(str::lines)
                            .map(|l| {
                                l.trim_start_matches("///")
                                    .trim_start_matches(' ')
                                    .to_string()
                            })
                            .collect(),
                    })
                })
                .collect()
        };
        let mut docs = HelperDocs::default();
        if let Some(modules) = json["modules"].as_object() {
            for (name, m) in modules {
                docs.namespaces.insert(name.clone(), fns(m));
            }
        }
        // Global functions worth listing are the documented ones (`env`, `sleep`); the
        // rest are the zavu methods, getters and operators.
        docs.globals = fns(&json)
            .into_iter()
            .filter(|f| !f.doc.is_empty())
            .collect();
        docs
    }

    fn find(&self, topic: &str) -> Vec<&FnDoc> {
        match topic.split_once("::") {
            Some((ns, name)) => self
                .namespaces
                .get(ns)
                .into_iter()
                .flatten()
                .filter(|f| f.name == name)
                .collect(),
            None => self.globals.iter().filter(|f| f.name == topic).collect(),
        }
    }
}

fn fn_block(out: &mut String, prefix: &str, f: &FnDoc) {
    let _ = writeln!(out, "{prefix}{}", f.signature);
    let mut in_example = false;
    for line in &f.doc {
        if line.starts_with("```") {
            in_example = !in_example;
            if in_example {
                let _ = writeln!(out, "    example:");
            }
            continue;
        }
        let _ = writeln!(out, "    {}{line}", if in_example { "  " } else { "" });
    }
}

/// `:help` with no topic.
pub fn overview(helpers: &HelperDocs) -> String {
    let mut out = String::new();
    out.push_str("Commands\n");
    for (name, what) in COMMANDS {
        let _ = writeln!(out, "  {name:<10} {what}");
    }
    out.push_str("\nThe API (`:help zavu.invitations.create` for parameters and an example)\n");
    for spec in RESOURCES {
        for (_, form) in spec.methods {
            let _ = writeln!(out, "  zavu.{}.{form}", spec.name);
        }
    }
    out.push_str("  zavu_client(#{ apiKey, baseUrl }) → a client for another project, with the same methods\n");
    out.push_str("\nHelpers (`:help csv::` for a namespace)\n");
    for (ns, fns) in &helpers.namespaces {
        let mut names: Vec<&str> = fns.iter().map(|f| f.name.as_str()).collect();
        names.dedup();
        let _ = writeln!(out, "  {ns}::{{{}}}", names.join(", "));
    }
    let mut globals: Vec<&str> = helpers.globals.iter().map(|f| f.name.as_str()).collect();
    globals.dedup();
    if !globals.is_empty() {
        let _ = writeln!(out, "  {}", globals.join(", "));
    }
    out.push_str(
        "\nKeys: Tab completes (twice lists the choices); an open bracket or a trailing `\\` continues \
on the next line; Ctrl-C cancels the input or the running call; Ctrl-D leaves.\n\
A line that starts with a space, or holds an API key, is not kept in history.\n",
    );
    out
}

fn method_help(spec_form: &str, m: &MethodDoc) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "zavu.{}.{spec_form}", m.resource);
    let _ = writeln!(out, "  {}", m.summary);
    let _ = writeln!(out, "  {}", m.http);
    let width = m.params.iter().map(|p| p.key.len()).max().unwrap_or(0);
    let _ = writeln!(out, "\nParameters");
    for p in m.params {
        let _ = writeln!(out, "  {:<width$}  {:<7}  {}", p.key, p.kind, p.rule);
    }
    let _ = writeln!(out, "\nExample");
    for line in m.example.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// `:help TOPIC`, or `None` when there is no such topic.
pub fn topic(topic: &str, helpers: &HelperDocs) -> Option<String> {
    let topic = topic.trim().trim_end_matches('(').trim_end_matches("()");
    if let Some((name, what)) = COMMANDS
        .iter()
        .find(|(c, _)| *c == topic || c.trim_start_matches(':') == topic)
    {
        return Some(format!("{name}: {what}\n"));
    }
    if let Some(path) = topic.strip_prefix("zavu.") {
        let (res, method_name) = match path.split_once('.') {
            Some((r, m)) => (r, Some(m)),
            None => (path, None),
        };
        let spec = RESOURCES.iter().find(|r| r.name == res)?;
        return match method_name {
            Some(name) => {
                let (_, form) = spec.methods.iter().find(|(m, _)| *m == name)?;
                Some(method_help(form, method(res, name)?))
            }
            None => {
                let mut out = format!(
                    "zavu.{} — `:help zavu.{}.METHOD` for one method\n",
                    spec.name, spec.name
                );
                for (_, form) in spec.methods {
                    let _ = writeln!(out, "  zavu.{}.{form}", spec.name);
                }
                Some(out)
            }
        };
    }
    if topic == "zavu" {
        let mut out = String::from("zavu — the API of the current project\n");
        for spec in RESOURCES {
            let _ = writeln!(out, "  zavu.{}", spec.name);
        }
        return Some(out);
    }
    if let Some(ns) = topic.strip_suffix("::") {
        let fns = helpers.namespaces.get(ns)?;
        let mut out = String::new();
        for f in fns {
            fn_block(&mut out, &format!("{ns}::"), f);
        }
        return Some(out);
    }
    let found = helpers.find(topic);
    if found.is_empty() {
        return None;
    }
    let prefix = topic
        .split_once("::")
        .map(|(ns, _)| format!("{ns}::"))
        .unwrap_or_default();
    let mut out = String::new();
    for f in found {
        fn_block(&mut out, &prefix, f);
    }
    Some(out)
}

/// The topic a misspelt `:help` argument most likely meant: `invitatons` →
/// `zavu.invitations`, `csv::raed` → `csv::read`, `hist` → `:history`.
pub fn nearest_topic(arg: &str, helpers: &HelperDocs) -> Option<String> {
    let arg = arg.trim().trim_end_matches("()");
    // (what a person might type, the topic it names)
    let mut known: Vec<(String, String)> = vec![("zavu".into(), "zavu".into())];
    for (c, _) in COMMANDS {
        known.push((c.trim_start_matches(':').to_string(), c.to_string()));
    }
    for spec in RESOURCES {
        let topic = format!("zavu.{}", spec.name);
        known.push((spec.name.to_string(), topic.clone()));
        known.push((topic.clone(), topic.clone()));
        for (m, _) in spec.methods {
            let full = format!("{topic}.{m}");
            known.push((format!("{}.{m}", spec.name), full.clone()));
            known.push((full.clone(), full));
        }
    }
    for (ns, fns) in &helpers.namespaces {
        known.push((ns.clone(), format!("{ns}::")));
        known.push((format!("{ns}::"), format!("{ns}::")));
        for f in fns {
            known.push((format!("{ns}::{}", f.name), format!("{ns}::{}", f.name)));
        }
    }
    for f in &helpers.globals {
        known.push((f.name.clone(), f.name.clone()));
    }
    let keys: Vec<&str> = known.iter().map(|(k, _)| k.as_str()).collect();
    let best = crate::api::validate::suggest(arg, &keys)?;
    known
        .iter()
        .find(|(k, _)| k == best)
        .map(|(_, topic)| topic.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_topic_gets_the_nearest() {
        let none = HelperDocs::default();
        assert_eq!(
            nearest_topic("invitatons", &none).as_deref(),
            Some("zavu.invitations")
        );
        assert_eq!(
            nearest_topic("zavu.invitations.craete", &none).as_deref(),
            Some("zavu.invitations.create")
        );
        assert_eq!(nearest_topic("histroy", &none).as_deref(), Some(":history"));
        assert_eq!(nearest_topic("xyzzy-plugh", &none), None);
    }

    #[test]
    fn create_help_states_the_contract_rules() {
        let text = topic("zavu.invitations.create", &HelperDocs::default()).unwrap();
        for needle in [
            "create(params) → invitation",
            "clientName",
            "at most 100 characters",
            "an email address",
            "E.164",
            "1 to 30 days, default 7",
            "2-letter ISO 3166-1",
            "pn_abc123",
            "whatsapp_waba | messenger",
            "Example",
            "zavu.invitations.create(#{ clientName: \"Acme Corp\"",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(topic("zavu.invitations.nope", &HelperDocs::default()).is_none());
        assert!(
            topic("zavu.invitations", &HelperDocs::default())
                .unwrap()
                .contains("cancel(id)")
        );
    }
}
