//! The template sends a script spells out, found in its compiled form without running it:
//! every `….messages.send(#{ … })` whose map names a `templateId` as a literal, with what
//! else the map states literally (channel, recipient, the keys of `templateVariables`,
//! `templateHeaderVariables` and `templateButtonVariables`). `zavu-script check` holds them
//! against the project's templates, so a send that would be refused is found before the
//! script ever runs; a send whose template id is computed is checked at the call instead.
//!
//! It reads the AST (Rhai's `internals`) and nothing else: no I/O, no API.

use rhai::{AST, ASTNode, Dynamic, Expr, Position};
use serde_json::{Map, Value};

/// A template send as far as the source states it.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateSendSite {
    /// Where `send` is written.
    pub position: Position,
    pub template_id: String,
    pub channel: Option<String>,
    pub to: Option<String>,
    /// `content` with the literal template maps: their keys, with each value that is not
    /// a literal string given as a placeholder (what matters is which keys are there).
    /// A map that is not written literally is left out and not checked.
    pub content: Map<String, Value>,
}

/// What an expression is, as far as the source says.
enum Lit {
    Known(Value),
    Map(Vec<(String, Lit)>),
    Unknown,
}

/// Stands for a value the source computes: present, non-empty, unknown.
const COMPUTED: &str = "(computed)";

fn dynamic_lit(d: &Dynamic) -> Lit {
    if let Some(m) = d.read_lock::<rhai::Map>() {
        return Lit::Map(
            m.iter()
                .map(|(k, v)| (k.to_string(), dynamic_lit(v)))
                .collect(),
        );
    }
    if let Some(s) = d.read_lock::<rhai::ImmutableString>() {
        return Lit::Known(Value::String(s.to_string()));
    }
    if d.is_unit() {
        return Lit::Known(Value::Null);
    }
    Lit::Unknown
}

fn lit(expr: &Expr) -> Lit {
    match expr {
        Expr::StringConstant(s, _) => Lit::Known(Value::String(s.to_string())),
        Expr::Unit(_) => Lit::Known(Value::Null),
        Expr::DynamicConstant(d, _) => dynamic_lit(d),
        Expr::Map(m, _) => {
            let (entries, _) = &**m;
            Lit::Map(
                entries
                    .iter()
                    .map(|(ident, e)| (ident.name.to_string(), lit(e)))
                    .collect(),
            )
        }
        _ => Lit::Unknown,
    }
}

fn field<'a>(entries: &'a [(String, Lit)], key: &str) -> Option<&'a Lit> {
    entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn known_str(l: Option<&Lit>) -> Option<String> {
    match l {
        Some(Lit::Known(Value::String(s))) => Some(s.clone()),
        _ => None,
    }
}

/// A literal `{string: …}` map as JSON, computed values as placeholders; a `()` entry is
/// left out, as the call leaves it out.
fn keys_of(entries: &[(String, Lit)]) -> Map<String, Value> {
    entries
        .iter()
        .filter_map(|(k, v)| match v {
            Lit::Known(Value::Null) => None,
            Lit::Known(v) => Some((k.clone(), v.clone())),
            _ => Some((k.clone(), Value::String(COMPUTED.into()))),
        })
        .collect()
}

fn site(params: &Expr, position: Position) -> Option<TemplateSendSite> {
    let Lit::Map(entries) = lit(params) else {
        return None;
    };
    if known_str(field(&entries, "messageType")).as_deref() != Some("template") {
        return None;
    }
    let Some(Lit::Map(content)) = field(&entries, "content") else {
        return None;
    };
    let template_id = known_str(field(content, "templateId"))?;
    let mut checked = Map::new();
    checked.insert("templateId".into(), Value::String(template_id.clone()));
    for key in [
        "templateVariables",
        "templateHeaderVariables",
        "templateButtonVariables",
    ] {
        match field(content, key) {
            Some(Lit::Map(m)) => {
                checked.insert(key.into(), Value::Object(keys_of(m)));
            }
            // Left out (or `()`): the send gives none of these.
            None | Some(Lit::Known(Value::Null)) => {}
            // Computed: which keys it has is unknown until the call.
            Some(_) => return None,
        }
    }
    Some(TemplateSendSite {
        position,
        template_id,
        channel: known_str(field(&entries, "channel")),
        to: known_str(field(&entries, "to")),
        content: checked,
    })
}

/// `send(map)` reached through `.messages`, as `<x>.messages.send(…)` or
/// `<x>.messages.send(…).more`.
fn send_call(messages_rhs: &Expr) -> Option<(&Expr, Position)> {
    let call = match messages_rhs {
        Expr::MethodCall(call, pos) => Some((call, *pos)),
        Expr::Dot(b, _, _) => match &b.lhs {
            Expr::MethodCall(call, pos) => Some((call, *pos)),
            _ => None,
        },
        _ => None,
    }?;
    let (call, pos) = call;
    (call.name.as_str() == "send" && call.args.len() == 1).then(|| (&call.args[0], pos))
}

/// Every literal template send in the script, functions included, in source order.
pub fn find(ast: &AST) -> Vec<TemplateSendSite> {
    let mut out = vec![];
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::Dot(b, _, _))) = path.last()
            && let Expr::Property(p, _) = &b.lhs
            && p.2.as_str() == "messages"
            && let Some((params, pos)) = send_call(&b.rhs)
            && let Some(s) = site(params, pos)
        {
            out.push(s);
        }
        true
    });
    out.sort_by_key(|s| (s.position.line(), s.position.position()));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites(script: &str) -> Vec<TemplateSendSite> {
        let mut engine = rhai::Engine::new();
        // Debug builds allow less nesting inside functions than release builds do.
        engine.set_max_expr_depths(0, 0);
        find(&engine.compile(script).unwrap())
    }

    #[test]
    fn finds_literal_template_sends_with_their_keys() {
        let found = sites(
            r#"
let name = "John";
fn welcome(to) {
    zavu.messages.send(#{ to: to, messageType: "template",
        content: #{ templateId: "tmpl_a", templateVariables: #{ "1": name, "2": "x" } } })
}
let id = zavu.messages.send(#{ to: "+14155551234", channel: "sms", messageType: "template",
    content: #{ templateId: "tmpl_b" }, "Zavu-Sender": s }).message.id;
zavu.messages.send(#{ to: "+1", messageType: "text", text: "hi" });
zavu.messages.send(#{ messageType: "template", content: #{ templateId: computed } });
zavu.messages.send(#{ messageType: "template", content: #{ templateId: "t", templateVariables: vars } });
"#,
        );
        assert_eq!(found.len(), 2, "{found:?}");
        let a = &found[0];
        assert_eq!(a.template_id, "tmpl_a");
        let b = &found[1];
        assert_eq!(b.template_id, "tmpl_b");
        assert_eq!(b.channel.as_deref(), Some("sms"));
        assert_eq!(b.position.line(), Some(7));
        let vars = a.content["templateVariables"].as_object().unwrap();
        assert_eq!(vars.keys().collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(vars["1"], COMPUTED);
        assert_eq!(a.to, None);
    }
}
