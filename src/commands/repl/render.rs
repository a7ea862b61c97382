//! How an input's result looks: an invitation as a compact block, a page of invitations
//! (or messages, senders, templates) as a table, anything else as indented JSON-like text.
//! Colours only when asked for — the caller decides (a terminal, and no `NO_COLOR`).
//!
//! It turns values into text and nothing else: no printing, no API calls.

use rhai::{Array, Dynamic, Map};
use std::fmt::Write as _;

/// ANSI styling, or none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colours when `stream_is_terminal` and `NO_COLOR` is unset or empty (no-color.org).
    pub fn detect(stream_is_terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: stream_is_terminal && !no_color,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn cyan(&self, t: &str) -> String {
        self.paint("36", t)
    }
    fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }

    /// A status in the colour of its meaning: waiting, done, or over.
    fn status(&self, s: &str) -> String {
        match s {
            "pending" | "in_progress" | "queued" | "sending" | "draft" => self.yellow(s),
            "completed" | "delivered" | "read" | "sent" | "approved" => self.green(s),
            "expired" | "cancelled" | "failed" | "rejected" => self.red(s),
            _ => s.to_string(),
        }
    }
}

fn text(m: &Map, key: &str) -> Option<String> {
    let v = m.get(key)?;
    if v.is_unit() {
        return None;
    }
    Some(match v.clone().into_immutable_string() {
        Ok(s) => s.to_string(),
        Err(_) => v.to_string(),
    })
}

fn has(m: &Map, keys: &[&str]) -> bool {
    keys.iter().all(|k| m.contains_key(*k))
}

fn is_invitation(m: &Map) -> bool {
    has(m, &["id", "token", "url", "status", "expiresAt"])
}

/// The kinds of object the API returns, by the fields the contract makes required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Invitation,
    Message,
    Sender,
    Template,
    PhoneNumber,
}

fn kind_of(m: &Map) -> Option<Kind> {
    if is_invitation(m) {
        Some(Kind::Invitation)
    } else if has(m, &["id", "to", "status", "channel", "messageType"]) {
        Some(Kind::Message)
    } else if has(m, &["id", "name", "language", "category"]) {
        Some(Kind::Template)
    } else if has(m, &["id", "phoneNumber", "capabilities", "status"]) {
        Some(Kind::PhoneNumber)
    } else if has(m, &["id", "name", "phoneNumber"]) {
        Some(Kind::Sender)
    } else {
        None
    }
}

/// `2025-01-22T12:00:00.000Z` → `2025-01-22 12:00Z`, for tables.
fn short_time(ts: &str) -> String {
    match (ts.get(..10), ts.get(11..16)) {
        (Some(d), Some(t)) if ts.as_bytes().get(10) == Some(&b'T') => format!("{d} {t}Z"),
        _ => ts.to_string(),
    }
}

fn client_of(m: &Map) -> String {
    ["clientName", "clientEmail", "clientPhone"]
        .iter()
        .find_map(|k| text(m, k))
        .unwrap_or_else(|| "—".into())
}

/// How a table cell is drawn from a row.
type Cell = fn(&Map) -> String;

/// The columns of a table of one kind: header and cell.
fn columns(kind: Kind) -> Vec<(&'static str, Cell)> {
    let get = |k: &'static str| -> Cell {
        match k {
            "id" => |m| text(m, "id").unwrap_or_default(),
            "status" => |m| text(m, "status").unwrap_or_default(),
            "to" => |m| text(m, "to").unwrap_or_default(),
            "channel" => |m| text(m, "channel").unwrap_or_default(),
            "name" => |m| text(m, "name").unwrap_or_default(),
            "phoneNumber" => |m| text(m, "phoneNumber").unwrap_or_default(),
            "language" => |m| text(m, "language").unwrap_or_default(),
            _ => |_| String::new(),
        }
    };
    match kind {
        Kind::Invitation => vec![
            ("id", get("id")),
            ("client", client_of),
            ("status", get("status")),
            ("expires", |m| {
                text(m, "expiresAt")
                    .map(|t| short_time(&t))
                    .unwrap_or_default()
            }),
        ],
        Kind::Message => vec![
            ("id", get("id")),
            ("to", get("to")),
            ("channel", get("channel")),
            ("status", get("status")),
            ("created", |m| {
                text(m, "createdAt")
                    .map(|t| short_time(&t))
                    .unwrap_or_default()
            }),
        ],
        Kind::Sender => vec![
            ("id", get("id")),
            ("name", get("name")),
            ("phone", get("phoneNumber")),
            ("default", |m| {
                if m.get("isDefault").and_then(|v| v.as_bool().ok()) == Some(true) {
                    "yes".into()
                } else {
                    String::new()
                }
            }),
        ],
        Kind::Template => vec![
            ("id", get("id")),
            ("name", get("name")),
            ("language", get("language")),
            ("status", get("status")),
        ],
        Kind::PhoneNumber => vec![
            ("id", get("id")),
            ("number", get("phoneNumber")),
            ("status", get("status")),
            ("sender", |m| {
                text(m, "senderId").unwrap_or_else(|| "— (free)".into())
            }),
        ],
    }
}

fn table(rows: &[Map], kind: Kind, style: Style) -> String {
    let cols = columns(kind);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|(_, f)| f(r)).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, (h, _))| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let header: Vec<String> = cols
        .iter()
        .zip(&widths)
        .map(|((h, _), w)| format!("{h:<w$}"))
        .collect();
    let _ = writeln!(out, "{}", style.bold(header.join("  ").trim_end()));
    for row in &cells {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            let shown = if cols[i].0 == "status" {
                style.status(cell)
            } else {
                cell.clone()
            };
            if i + 1 < row.len() {
                let _ = write!(line, "{shown}{}  ", " ".repeat(pad));
            } else {
                line.push_str(&shown);
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

fn invitation_block(m: &Map, style: Style) -> String {
    let mut out = format!(
        "{} {}  {}\n",
        style.bold("invitation"),
        style.cyan(&text(m, "id").unwrap_or_default()),
        style.status(&text(m, "status").unwrap_or_default())
    );
    let client: Vec<String> = ["clientName", "clientEmail", "clientPhone"]
        .iter()
        .filter_map(|k| text(m, k))
        .collect();
    let mut rows: Vec<(&str, String)> = vec![];
    if !client.is_empty() {
        rows.push(("client", client.join(" · ")));
    }
    rows.push(("url", text(m, "url").unwrap_or_default()));
    for (label, key) in [
        ("token", "token"),
        ("expires", "expiresAt"),
        ("created", "createdAt"),
        ("updated", "updatedAt"),
        ("viewed", "viewedAt"),
        ("started", "startedAt"),
        ("completed", "completedAt"),
        ("failed", "failedAt"),
        ("reason", "failureReason"),
        ("sender", "senderId"),
        ("number", "phoneNumberId"),
        ("channel", "connectionType"),
    ] {
        if let Some(v) = text(m, key) {
            rows.push((label, v));
        }
    }
    if let Some(acct) = m.get("connectedAccount").and_then(|v| v.read_lock::<Map>()) {
        let parts: Vec<String> = ["name", "channel", "id"]
            .iter()
            .filter_map(|k| text(&acct, k))
            .collect();
        if !parts.is_empty() {
            rows.push(("account", parts.join(" · ")));
        }
    }
    // Every other field the object carries — `allowedPhoneCountries`, or whatever the
    // API adds — under its own name, so nothing it says is hidden.
    let mut rest: Vec<(String, String)> = m
        .iter()
        .filter(|(k, v)| !SHOWN_INVITATION_KEYS.contains(&k.as_str()) && !v.is_unit())
        .map(|(k, v)| (k.to_string(), field_text(v)))
        .collect();
    rest.sort();
    for (label, value) in rows {
        let _ = writeln!(out, "  {}  {value}", style.dim(&format!("{label:<9}")));
    }
    for (label, value) in rest {
        let _ = writeln!(out, "  {}  {value}", style.dim(&format!("{label:<9}")));
    }
    out
}

/// The invitation fields the block above lays out itself.
const SHOWN_INVITATION_KEYS: &[&str] = &[
    "id",
    "status",
    "clientName",
    "clientEmail",
    "clientPhone",
    "url",
    "token",
    "expiresAt",
    "createdAt",
    "updatedAt",
    "viewedAt",
    "startedAt",
    "completedAt",
    "failedAt",
    "failureReason",
    "senderId",
    "phoneNumberId",
    "connectionType",
    "connectedAccount",
];

/// A field's value on one line: text as it is, anything else as JSON.
fn field_text(v: &Dynamic) -> String {
    if v.is_string() {
        return v.to_string();
    }
    crate::engine::convert::to_json(v)
        .map(|j| j.to_string())
        .unwrap_or_else(|_| v.to_string())
}

fn maps_of(items: &Array) -> Option<Vec<Map>> {
    items
        .iter()
        .map(|v| v.read_lock::<Map>().map(|m| m.clone()))
        .collect()
}

/// An input's value as the REPL shows it; `None` for `()`, which shows nothing.
pub fn value(v: &Dynamic, style: Style, describe: Describe) -> Option<String> {
    if v.is_unit() {
        return None;
    }
    if let Some(m) = v.read_lock::<Map>() {
        if is_invitation(&m) {
            return Some(invitation_block(&m, style));
        }
        // `get` and `cancel` answer `#{ invitation }`.
        if m.len() == 1
            && let Some(inner) = m.get("invitation").and_then(|i| i.read_lock::<Map>())
            && is_invitation(&inner)
        {
            return Some(invitation_block(&inner, style));
        }
        // A list page: `#{ items, nextCursor }`.
        if let Some(items) = m.get("items").and_then(|i| i.read_lock::<Array>())
            && m.keys().all(|k| k == "items" || k == "nextCursor")
            && let Some(rows) = maps_of(&items)
        {
            let kind = rows.first().and_then(kind_of);
            if rows.is_empty() || kind.is_some() && rows.iter().all(|r| kind_of(r) == kind) {
                let mut out = match kind {
                    Some(k) => table(&rows, k, style),
                    None => style.dim("(no items on this page)\n"),
                };
                if let Some(next) = text(&m, "nextCursor").filter(|c| !c.is_empty()) {
                    let _ = writeln!(out, "{}", style.dim(&format!("next page: cursor {next:?}")));
                }
                return Some(out);
            }
        }
    }
    // An array of API objects of one kind, e.g. collected from `zavu.invitations.all()`.
    if let Some(arr) = v.read_lock::<Array>()
        && let Some(rows) = maps_of(&arr)
        && let Some(kind) = rows.first().and_then(kind_of)
        && rows.iter().all(|r| kind_of(r) == Some(kind))
    {
        return Some(table(&rows, kind, style));
    }
    let mut out = String::new();
    write_value(&mut out, v, 0, style, describe);
    out.push('\n');
    Some(out)
}

/// What a value of one of the engine's own types (an `ApiError`, a `zavu` client) says
/// about itself: its `to_string`, which only the engine can call.
pub type Describe<'a> = &'a dyn Fn(&Dynamic) -> String;

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// One line for small values, so `#{ a: 1 }` stays on one line.
fn inline(v: &Dynamic, style: Style, describe: Describe) -> Option<String> {
    if let Some(m) = v.read_lock::<Map>() {
        if m.is_empty() {
            return Some("#{}".into());
        }
        let parts: Option<Vec<String>> = m
            .iter()
            .map(|(k, v)| inline(v, style, describe).map(|s| format!("{}: {s}", key(k, style))))
            .collect();
        return Some(format!("#{{ {} }}", parts?.join(", ")));
    }
    if let Some(a) = v.read_lock::<Array>() {
        let parts: Option<Vec<String>> = a.iter().map(|v| inline(v, style, describe)).collect();
        return Some(format!("[{}]", parts?.join(", ")));
    }
    Some(scalar(v, style, describe))
}

fn key(k: &str, style: Style) -> String {
    let shown = if is_ident(k) {
        k.to_string()
    } else {
        quoted(k)
    };
    style.cyan(&shown)
}

fn scalar(v: &Dynamic, style: Style, describe: Describe) -> String {
    if v.is_unit() {
        return style.dim("()");
    }
    if v.is_string() {
        return style.green(&quoted(&v.to_string()));
    }
    if v.is_int() || v.is_float() || v.is_bool() {
        return style.yellow(&v.to_string());
    }
    if v.is_char() {
        return format!("{v:?}");
    }
    describe(v)
}

const WIDTH: usize = 80;

fn visible_len(s: &str) -> usize {
    // Escape sequences take no room on screen.
    let mut n = 0;
    let mut in_esc = false;
    for c in s.chars() {
        match (in_esc, c) {
            (false, '\x1b') => in_esc = true,
            (true, 'm') => in_esc = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

fn write_value(out: &mut String, v: &Dynamic, indent: usize, style: Style, describe: Describe) {
    if let Some(line) = inline(v, style, describe)
        && indent * 2 + visible_len(&line) <= WIDTH
    {
        out.push_str(&line);
        return;
    }
    let pad = "  ".repeat(indent + 1);
    let end_pad = "  ".repeat(indent);
    if let Some(m) = v.read_lock::<Map>() {
        out.push_str("#{\n");
        for (k, item) in m.iter() {
            let _ = write!(out, "{pad}{}: ", key(k, style));
            write_value(out, item, indent + 1, style, describe);
            out.push_str(",\n");
        }
        let _ = write!(out, "{end_pad}}}");
        return;
    }
    if let Some(a) = v.read_lock::<Array>() {
        out.push_str("[\n");
        for item in a.iter() {
            out.push_str(&pad);
            write_value(out, item, indent + 1, style, describe);
            out.push_str(",\n");
        }
        let _ = write!(out, "{end_pad}]");
        return;
    }
    out.push_str(&scalar(v, style, describe));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::convert::from_json;
    use serde_json::json;

    fn inv(id: &str, name: Option<&str>, status: &str) -> serde_json::Value {
        json!({"id": id, "token": "tok", "url": format!("http://127.0.0.1:4010/invite/{id}"),
            "status": status, "expiresAt": "2025-01-22T12:00:00.000Z",
            "createdAt": "2025-01-15T12:00:00.000Z", "updatedAt": "2025-01-15T12:00:00.000Z",
            "clientName": name, "clientEmail": "contact@acme.com", "clientPhone": null,
            "senderId": null, "connectionType": "whatsapp_waba"})
    }

    const PLAIN: Style = Style { color: false };

    fn value_of(v: &Dynamic, style: Style) -> Option<String> {
        value(v, style, &|d| d.to_string())
    }

    #[test]
    fn every_field_of_an_invitation_is_shown() {
        let mut inv = inv("inv_9", Some("a@x.example"), "pending");
        inv["allowedPhoneCountries"] = json!(["US", "MX"]);
        inv["token"] = json!("tok_9");
        let out = value(&from_json(&inv), Style::default(), &|_| String::new()).unwrap();
        for needle in [
            "token      tok_9",
            "allowedPhoneCountries  [\"US\",\"MX\"]",
            "updated",
        ] {
            assert!(out.contains(needle), "{needle:?} in\n{out}");
        }
    }

    #[test]
    fn an_invitation_is_a_block() {
        let out = value_of(
            &from_json(&inv("inv_1", Some("Acme Corp"), "pending")),
            PLAIN,
        )
        .unwrap();
        assert!(out.starts_with("invitation inv_1  pending\n"), "{out}");
        assert!(
            out.contains("  client     Acme Corp · contact@acme.com\n"),
            "{out}"
        );
        assert!(
            out.contains("  url        http://127.0.0.1:4010/invite/inv_1\n"),
            "{out}"
        );
        assert!(!out.contains("sender"), "{out}");
        let wrapped = value_of(
            &from_json(&json!({"invitation": inv("inv_1", None, "pending")})),
            PLAIN,
        )
        .unwrap();
        assert!(wrapped.starts_with("invitation inv_1"), "{wrapped}");
    }

    #[test]
    fn a_page_is_a_table_with_the_next_cursor() {
        let page = json!({"items": [inv("inv_1", Some("Acme Corp"), "pending"), inv("inv_22", None, "cancelled")],
            "nextCursor": "c2"});
        let out = value_of(&from_json(&page), PLAIN).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "id      client            status     expires");
        assert_eq!(
            lines[1],
            "inv_1   Acme Corp         pending    2025-01-22 12:00Z"
        );
        assert_eq!(
            lines[2],
            "inv_22  contact@acme.com  cancelled  2025-01-22 12:00Z"
        );
        assert_eq!(lines[3], "next page: cursor \"c2\"");
        let last = value_of(&from_json(&json!({"items": [], "nextCursor": null})), PLAIN).unwrap();
        assert_eq!(last, "(no items on this page)\n");
    }

    #[test]
    fn phone_numbers_show_which_are_free() {
        let number = |id: &str, sender: Option<&str>| {
            let mut n = json!({"id": id, "phoneNumber": "+14155550123", "capabilities": ["sms"],
                "createdAt": "2025-01-15T12:00:00.000Z", "pricing": {}, "status": "active"});
            if let Some(s) = sender {
                n["senderId"] = json!(s);
            }
            n
        };
        let page = json!({"items": [number("pn_1", None), number("pn_2", Some("snd_1"))],
            "nextCursor": null});
        let out = value_of(&from_json(&page), PLAIN).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "id    number        status  sender");
        assert_eq!(lines[1], "pn_1  +14155550123  active  — (free)");
        assert_eq!(lines[2], "pn_2  +14155550123  active  snd_1");
    }

    #[test]
    fn other_values_are_indented_text() {
        assert_eq!(value_of(&Dynamic::UNIT, PLAIN), None);
        assert_eq!(value_of(&Dynamic::from(42_i64), PLAIN).unwrap(), "42\n");
        assert_eq!(value_of(&Dynamic::from("hi"), PLAIN).unwrap(), "\"hi\"\n");
        let small = from_json(&json!({"a": 1, "b": [true, null], "odd key": "x"}));
        assert_eq!(
            value_of(&small, PLAIN).unwrap(),
            "#{ a: 1, b: [true, ()], \"odd key\": \"x\" }\n"
        );
        let long = from_json(&json!({"message": {"id": "msg_1", "to": "+14155551234",
            "content": {"templateId": "tmpl_xyz789", "templateVariables": {"1": "John"}}, "status": "queued"}}));
        let out = value_of(&long, PLAIN).unwrap();
        assert!(
            out.starts_with("#{\n  message: #{\n    content: #{"),
            "{out}"
        );
        assert!(out.ends_with("  },\n}\n"), "{out}");
    }

    #[test]
    fn colour_only_when_asked() {
        let on = Style { color: true };
        let out = value_of(&from_json(&inv("inv_1", None, "completed")), on).unwrap();
        assert!(out.contains("\x1b[32mcompleted\x1b[0m"), "{out:?}");
        let off = value_of(&from_json(&inv("inv_1", None, "completed")), PLAIN).unwrap();
        assert!(!off.contains('\x1b'));
    }
}
