//! Where the cursor is, for Tab completion: in the middle of a `:command`, `zavu.` and a
//! resource, a method, a helper namespace, a parameter key in the map passed to a `zavu`
//! method, a field of a map variable, a path, or a plain name. Found from the text before
//! the cursor alone; what could go there is [`super::complete`]'s question. Pure, so every
//! rule is unit-tested.

use super::api_docs;
use super::input::{self, Class, End};

/// What is being completed, found from the text before the cursor. `start` is the byte
/// offset where the replaced word begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Context {
    /// `:he` at the start of an input.
    Command {
        start: usize,
        word: String,
    },
    /// `:help zavu.inv`
    HelpTopic {
        start: usize,
        word: String,
    },
    /// `:load scr`, or inside a string literal: a file path.
    Path {
        start: usize,
        word: String,
    },
    /// `zavu.inv`
    Resource {
        start: usize,
        word: String,
    },
    /// `zavu.invitations.cr` (or `other.invitations.cr` for a `zavu_client`)
    Method {
        start: usize,
        resource: String,
        word: String,
    },
    /// `csv::re`
    NamespaceFn {
        start: usize,
        namespace: String,
        word: String,
    },
    /// `zavu.invitations.create(#{ clientName: "A", client` — a key of that method's
    /// parameters, minus the keys already written. `after_id`: the map follows an id
    /// argument (`zavu.senders.update(id, #{ …`), so the id key is not offered.
    ParamKey {
        start: usize,
        resource: String,
        method: String,
        word: String,
        present: Vec<String>,
        after_id: bool,
        /// In a map given as the value of this parameter (`content: #{ tem`).
        within: Option<String>,
    },
    /// `status: "pen` — inside the string given as a parameter's value.
    ParamValue {
        start: usize,
        resource: String,
        method: String,
        key: String,
        word: String,
    },
    /// `inv.cl` — a key of the map held by a variable.
    Field {
        start: usize,
        var: String,
        word: String,
    },
    /// A variable, function, namespace or keyword.
    Name {
        start: usize,
        word: String,
    },
    Nothing,
}

pub(super) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The identifier ending at `end`, as (start, word).
fn word_before(text: &str, end: usize) -> (usize, &str) {
    let bytes = text.as_bytes();
    let mut start = end;
    while start > 0 && is_ident_byte(bytes[start - 1]) {
        start -= 1;
    }
    (start, &text[start..end])
}

/// A dotted path like `zavu.invitations` ending at `end` (no spaces, no calls).
fn path_before(text: &str, end: usize) -> &str {
    let bytes = text.as_bytes();
    let mut start = end;
    while start > 0 && (is_ident_byte(bytes[start - 1]) || bytes[start - 1] == b'.') {
        start -= 1;
    }
    text[start..end].trim_start_matches('.')
}

pub fn context(text: &str) -> Context {
    if let Some(rest) = text.strip_prefix(':')
        && !text.contains('\n')
    {
        return command_context(rest);
    }
    let scan = input::scan(text);
    match scan.end {
        End::Comment => return Context::Nothing,
        End::Text => return string_context(text, &scan),
        End::Code => {}
    }
    let (start, word) = word_before(text, text.len());
    let word = word.to_string();
    let before = &text[..start];
    if let Some(head) = before.strip_suffix("::") {
        let (_, namespace) = word_before(head, head.len());
        if namespace.is_empty() {
            return Context::Nothing;
        }
        return Context::NamespaceFn {
            start,
            namespace: namespace.to_string(),
            word,
        };
    }
    if let Some(head) = before.strip_suffix('.') {
        let path: Vec<&str> = path_before(head, head.len()).split('.').collect();
        return match path.as_slice() {
            [""] => Context::Nothing,
            ["zavu"] => Context::Resource { start, word },
            [.., res] if path.len() >= 2 && api_docs::is_resource(res) => Context::Method {
                start,
                resource: res.to_string(),
                word,
            },
            [var] if !var.starts_with(|c: char| c.is_ascii_digit()) => Context::Field {
                start,
                var: var.to_string(),
                word,
            },
            _ => Context::Nothing,
        };
    }
    if let Some(ctx) = param_key_context(text, &scan, start, &word) {
        return ctx;
    }
    Context::Name { start, word }
}

fn command_context(rest: &str) -> Context {
    match rest.split_once(' ') {
        None => Context::Command {
            start: 0,
            word: format!(":{rest}"),
        },
        Some((cmd, arg)) => {
            let arg_start = 1 + cmd.len() + 1 + (arg.len() - arg.trim_start().len());
            let word = arg.trim_start().to_string();
            match cmd {
                "help" | "h" | "?" => Context::HelpTopic {
                    start: arg_start,
                    word,
                },
                "load" => Context::Path {
                    start: arg_start,
                    word,
                },
                _ => Context::Nothing,
            }
        }
    }
}

/// Inside an open `"…"` string: complete a file path (`csv::read("exa` ⇥).
fn string_context(text: &str, scan: &input::Scan) -> Context {
    let mut start = text.len();
    while start > 0 && scan.classes[start - 1] == Class::Text {
        start -= 1;
    }
    if text.as_bytes().get(start) != Some(&b'"') {
        return Context::Nothing;
    }
    if let Some(ctx) = param_value_context(text, scan, start) {
        return ctx;
    }
    Context::Path {
        start: start + 1,
        word: text[start + 1..].to_string(),
    }
}

/// The zavu call whose parameter map encloses `at`: (resource, method, the map's `{`,
/// whether an id argument came first, and the key the innermost map is the value of when
/// it is nested one level in the parameter map).
struct CallMap {
    resource: String,
    method: String,
    map: usize,
    after_id: bool,
    within: Option<String>,
}

fn call_map(text: &str, scan: &input::Scan, at: usize) -> Option<CallMap> {
    let open = input::open_brackets(&text[..at], scan).ok()?;
    let is_map = |o: &input::Open| o.ch == '{' && o.at > 0 && text.as_bytes()[o.at - 1] == b'#';
    let (call, map, within) = match open.as_slice() {
        [.., call, map, inner] if call.ch == '(' && is_map(map) && is_map(inner) => {
            // `key: #{` — the nested map is that key's value.
            let head = text[map.at + 1..inner.at - 1].trim_end();
            let head = head.strip_suffix(':')?.trim_end();
            let (_, key) = word_before(head, head.len());
            (call, map, Some(key.trim_matches('"').to_string()))
        }
        [.., call, map] if call.ch == '(' && is_map(map) => (call, map, None),
        _ => return None,
    };
    let before_map = text[call.at + 1..map.at - 1].trim();
    let after_id = !before_map.is_empty();
    if after_id && !before_map.ends_with(',') {
        return None;
    }
    let callee = path_before(text, call.at);
    let mut parts = callee.rsplit('.');
    let method = parts.next()?;
    let resource = parts.next()?;
    if !api_docs::is_resource(resource) {
        return None;
    }
    if after_id && !api_docs::takes_id_then_map(resource, method) {
        return None;
    }
    let map_at = match &within {
        Some(_) => open.last().map(|o| o.at)?,
        None => map.at,
    };
    Some(CallMap {
        resource: resource.to_string(),
        method: method.to_string(),
        map: map_at,
        after_id,
        within,
    })
}

/// The cursor at a key position in `#{ … }` written as the argument of
/// `<something>.<resource>.<method>(`, or in a map one level inside it.
fn param_key_context(text: &str, scan: &input::Scan, start: usize, word: &str) -> Option<Context> {
    let cm = call_map(text, scan, start)?;
    // A key goes right after `#{` or a `,` of this map.
    let last = text[cm.map + 1..start]
        .char_indices()
        .rev()
        .find(|(i, c)| {
            !c.is_whitespace() && scan.classes.get(cm.map + 1 + i) != Some(&Class::Comment)
        })
        .map(|(_, c)| c);
    if !matches!(last, None | Some(',')) {
        return None;
    }
    Some(Context::ParamKey {
        start,
        resource: cm.resource,
        method: cm.method,
        word: word.to_string(),
        present: keys_written(text, scan, cm.map + 1, start),
        after_id: cm.after_id,
        within: cm.within,
    })
}

/// Inside `key: "…` in a zavu call's parameter map: that parameter's allowed values.
fn param_value_context(text: &str, scan: &input::Scan, quote: usize) -> Option<Context> {
    let head = text[..quote].trim_end().strip_suffix(':')?.trim_end();
    let (_, key) = word_before(head, head.len());
    if key.is_empty() {
        return None;
    }
    let cm = call_map(text, scan, quote)?;
    if cm.within.is_some() {
        return None;
    }
    Some(Context::ParamValue {
        start: quote + 1,
        resource: cm.resource,
        method: cm.method,
        key: key.to_string(),
        word: text[quote + 1..].to_string(),
    })
}

/// Keys already written at the top level of a map literal between `from` and `to`.
fn keys_written(text: &str, scan: &input::Scan, from: usize, to: usize) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut keys = vec![];
    let mut depth = 0usize;
    let mut i = from;
    while i < to {
        if scan.classes[i] != Class::Code {
            i += 1;
            continue;
        }
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b':' if depth == 0
                && bytes.get(i + 1) != Some(&b':')
                && (i == 0 || bytes[i - 1] != b':') =>
            {
                let head = text[from..i].trim_end();
                let end = from + head.len();
                if head.ends_with('"') {
                    // A quoted key: find the opening quote of that string.
                    let mut s = end - 1;
                    while s > from && !(bytes[s - 1] == b'"' && scan.classes[s - 1] == Class::Text)
                    {
                        s -= 1;
                    }
                    if s > from {
                        keys.push(text[s..end - 1].to_string());
                    }
                } else {
                    let (_, w) = word_before(text, end);
                    if !w.is_empty() {
                        keys.push(w.to_string());
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(text: &str) -> Context {
        context(text)
    }

    #[test]
    fn zavu_resources_and_methods() {
        assert_eq!(
            ctx("zavu.inv"),
            Context::Resource {
                start: 5,
                word: "inv".into()
            }
        );
        assert_eq!(
            ctx("let p = zavu.invitations.c"),
            Context::Method {
                start: 25,
                resource: "invitations".into(),
                word: "c".into()
            }
        );
        assert!(
            matches!(ctx("other.messages."), Context::Method { resource, .. } if resource == "messages")
        );
        assert!(
            matches!(ctx("inv.cl"), Context::Field { var, word, .. } if var == "inv" && word == "cl")
        );
        assert_eq!(ctx("1."), Context::Nothing);
    }

    #[test]
    fn param_keys_inside_the_map_argument() {
        let Context::ParamKey {
            resource,
            method,
            word,
            present,
            start,
            after_id,
            within: None,
        } = ctx("zavu.invitations.create(#{ client")
        else {
            panic!("{:?}", ctx("zavu.invitations.create(#{ client"));
        };
        assert_eq!(
            (resource.as_str(), method.as_str()),
            ("invitations", "create")
        );
        assert_eq!((word.as_str(), start), ("client", 27));
        assert!(present.is_empty() && !after_id);
        let Context::ParamKey {
            method, after_id, ..
        } = ctx("zavu.senders.update(inv.senderId, #{ web")
        else {
            panic!("{:?}", ctx("zavu.senders.update(inv.senderId, #{ web"));
        };
        assert!(method == "update" && after_id);

        let text = "let inv = zavu.invitations.create(#{\n  clientName: \"A, b: c\",\n  allowedPhoneCountries: [\"US\", \"MX\"],\n  exp";
        let Context::ParamKey { present, word, .. } = ctx(text) else {
            panic!("{:?}", ctx(text));
        };
        assert_eq!(word, "exp");
        assert_eq!(present, ["clientName", "allowedPhoneCountries"]);

        let text = r#"zavu.messages.send(#{ "Zavu-Sender": s, content: #{ templateId: "t" }, "#;
        let Context::ParamKey { present, .. } = ctx(text) else {
            panic!("{:?}", ctx(text));
        };
        assert_eq!(present, ["Zavu-Sender", "content"]);

        // One level in: the keys of the map a parameter takes.
        let text = r#"zavu.messages.send(#{ to: t, content: #{ templateId: "x", tem"#;
        let Context::ParamKey {
            within,
            present,
            word,
            ..
        } = ctx(text)
        else {
            panic!("{:?}", ctx(text));
        };
        assert_eq!(within.as_deref(), Some("content"));
        assert_eq!(present, ["templateId"]);
        assert_eq!(word, "tem");
    }

    #[test]
    fn a_value_inside_its_string() {
        let text = r#"zavu.invitations.list(#{ status: "pen"#;
        assert_eq!(
            ctx(text),
            Context::ParamValue {
                start: text.len() - 3,
                resource: "invitations".into(),
                method: "list".into(),
                key: "status".into(),
                word: "pen".into(),
            }
        );
        // Any other string is still a path.
        assert!(matches!(ctx(r#"csv::read("exa"#), Context::Path { .. }));
    }

    #[test]
    fn not_a_key_position() {
        // A value, not a key.
        assert!(matches!(
            ctx("zavu.invitations.create(#{ clientName: na"),
            Context::Name { .. }
        ));
        // Two levels in is no parameter's map (one level in is: see above).
        assert!(matches!(
            ctx("zavu.messages.send(#{ content: #{ a: #{ temp"),
            Context::Name { .. }
        ));
        // Not a zavu method.
        assert!(matches!(ctx("foo(#{ cl"), Context::Name { .. }));
        // A second argument.
        assert!(matches!(
            ctx("zavu.invitations.create(1, #{ cl"),
            Context::Name { .. }
        ));
        assert_eq!(ctx("// zavu.inv"), Context::Nothing);
    }

    #[test]
    fn namespaces_commands_and_paths() {
        assert_eq!(
            ctx("for r in csv::re"),
            Context::NamespaceFn {
                start: 14,
                namespace: "csv".into(),
                word: "re".into()
            }
        );
        assert_eq!(
            ctx(":he"),
            Context::Command {
                start: 0,
                word: ":he".into()
            }
        );
        assert_eq!(
            ctx(":help zavu.invitations.cr"),
            Context::HelpTopic {
                start: 6,
                word: "zavu.invitations.cr".into()
            }
        );
        assert_eq!(
            ctx(":load scripts/on"),
            Context::Path {
                start: 6,
                word: "scripts/on".into()
            }
        );
        assert_eq!(
            ctx("csv::read(\"examples/cl"),
            Context::Path {
                start: 11,
                word: "examples/cl".into()
            }
        );
    }

    /// Whatever is typed, at whatever cursor position: no panic, and offsets that are
    /// character boundaries.
    #[test]
    fn any_text_is_safe() {
        const PIECES: &[&str] = &[
            "zavu",
            ".",
            "invitations",
            "create",
            "(",
            ")",
            "#{",
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "::",
            "\"",
            "'",
            "`",
            "${",
            "\\",
            "\n",
            " ",
            "//",
            "/*",
            "*/",
            "é",
            "→",
            "x",
            "1",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..3000 {
            let text: String = (0..rng.usize(0..24))
                .map(|_| PIECES[rng.usize(..PIECES.len())])
                .collect();
            for (cut, _) in text.char_indices().chain([(text.len(), ' ')]) {
                let head = &text[..cut];
                let _ = input::balance(head);
                let _ = input::strip_continuations(head);
                let ctx = context(head);
                let _ = super::super::complete::Catalog::default()
                    .candidates(&ctx, &super::super::complete::Names::default());
                if let Context::Name { start, .. } | Context::ParamKey { start, .. } = ctx {
                    assert!(head.is_char_boundary(start), "{head:?} {start}");
                }
            }
        }
    }
}
