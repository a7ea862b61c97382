//! When an input is finished: a small scanner over Rhai source that knows strings,
//! backtick interpolation, character literals and comments, so that brackets inside them
//! are not counted. It decides whether an input is complete, needs another line (an open
//! bracket, an open backtick string or block comment, a trailing `\`), or has a closer
//! with nothing to close — and it is what completion uses to see the code around the cursor.
//!
//! It is not a Rhai parser: anything it lets through is judged by the real compiler, which
//! reports errors with their place. It must never reject an input Rhai would accept.

/// What one byte of the input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Code,
    /// Inside a string or character literal, including its quotes.
    Text,
    Comment,
}

/// Where the scan ended, for an input cut at the cursor or at the end of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Code,
    /// Inside `"…"`, `'…'` or a backtick string.
    Text,
    Comment,
}

/// The input, byte by byte, classified.
pub struct Scan {
    pub classes: Vec<Class>,
    pub end: End,
    /// Open backtick strings or block comments at the end: those may span lines.
    pub open_multiline: bool,
    /// Byte offsets of `\` at the end of a line outside strings (line continuations).
    pub continuations: Vec<usize>,
    /// The input ends with a line continuation (in code or inside a `"…"` string).
    pub ends_continued: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    /// Code; inside `${…}` it counts its own braces so the closing `}` is found.
    Code {
        interp: bool,
        depth: usize,
    },
    Backtick,
}

pub fn scan(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut classes = vec![Class::Code; bytes.len()];
    let mut stack = vec![Ctx::Code {
        interp: false,
        depth: 0,
    }];
    let mut continuations = vec![];
    let mut end = End::Code;
    let mut open_multiline = false;
    let mut ends_continued = false;
    let mut i = 0;
    let n = bytes.len();
    let mark = |classes: &mut Vec<Class>, from: usize, to: usize, c: Class| {
        for slot in &mut classes[from..to.min(n)] {
            *slot = c;
        }
    };
    while i < n {
        let top = *stack.last().unwrap_or(&Ctx::Code {
            interp: false,
            depth: 0,
        });
        let b = bytes[i];
        match top {
            Ctx::Backtick => match b {
                b'`' => {
                    classes[i] = Class::Text;
                    stack.pop();
                    i += 1;
                }
                b'\\' => {
                    mark(&mut classes, i, i + 2, Class::Text);
                    i += 2;
                }
                b'$' if bytes.get(i + 1) == Some(&b'{') => {
                    mark(&mut classes, i, i + 2, Class::Text);
                    stack.push(Ctx::Code {
                        interp: true,
                        depth: 0,
                    });
                    i += 2;
                }
                _ => {
                    classes[i] = Class::Text;
                    i += 1;
                }
            },
            Ctx::Code { interp, depth } => match b {
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    let stop = text[i..].find('\n').map_or(n, |k| i + k);
                    mark(&mut classes, i, stop, Class::Comment);
                    if stop == n {
                        end = End::Comment;
                    }
                    i = stop;
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    // Rhai's block comments nest.
                    let start = i;
                    let mut level = 0usize;
                    while i < n {
                        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                            level += 1;
                            i += 2;
                        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                            level -= 1;
                            i += 2;
                            if level == 0 {
                                break;
                            }
                        } else {
                            i += 1;
                        }
                    }
                    mark(&mut classes, start, i, Class::Comment);
                    if level > 0 {
                        end = End::Comment;
                        open_multiline = true;
                    }
                }
                b'"' | b'\'' => {
                    // A quoted string ends at its quote or, unterminated, at the end of
                    // the line — unless the line ends in `\`, Rhai's string continuation.
                    let start = i;
                    i += 1;
                    let mut closed = false;
                    while i < n {
                        match bytes[i] {
                            b'\\' => {
                                if i + 1 == n {
                                    ends_continued = true;
                                }
                                i += 2;
                            }
                            q if q == b => {
                                i += 1;
                                closed = true;
                                break;
                            }
                            b'\n' => break,
                            _ => i += 1,
                        }
                    }
                    let stop = i.min(n);
                    mark(&mut classes, start, stop, Class::Text);
                    if !closed && stop == n {
                        end = End::Text;
                    }
                }
                b'`' => {
                    classes[i] = Class::Text;
                    stack.push(Ctx::Backtick);
                    i += 1;
                }
                b'{' if interp => {
                    stack.pop();
                    stack.push(Ctx::Code {
                        interp,
                        depth: depth + 1,
                    });
                    i += 1;
                }
                b'}' if interp && depth == 0 => {
                    // Closes `${`: back inside the backtick string.
                    classes[i] = Class::Text;
                    stack.pop();
                    i += 1;
                }
                b'}' if interp => {
                    stack.pop();
                    stack.push(Ctx::Code {
                        interp,
                        depth: depth - 1,
                    });
                    i += 1;
                }
                b'\\' if at_line_end(bytes, i + 1) => {
                    continuations.push(i);
                    if bytes[i + 1..]
                        .iter()
                        .all(|c| matches!(c, b' ' | b'\t' | b'\r'))
                    {
                        ends_continued = true;
                    }
                    i += 1;
                }
                _ => i += 1,
            },
        }
    }
    if stack.contains(&Ctx::Backtick) {
        open_multiline = true;
        if matches!(stack.last(), Some(Ctx::Backtick)) {
            end = End::Text;
        }
    }
    Scan {
        classes,
        end,
        open_multiline,
        continuations,
        ends_continued,
    }
}

/// Only spaces (or nothing) between here and the end of the line.
fn at_line_end(bytes: &[u8], from: usize) -> bool {
    bytes[from.min(bytes.len())..]
        .iter()
        .take_while(|c| **c != b'\n')
        .all(|c| matches!(c, b' ' | b'\t' | b'\r'))
}

/// An opening bracket still open at the end of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    pub ch: char,
    pub at: usize,
}

/// A closer that closes nothing, or the wrong thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stray {
    pub found: char,
    /// The closer the innermost open bracket wants, if any is open.
    pub expected: Option<char>,
    pub at: usize,
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Stray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.expected {
            None => write!(
                f,
                "`{}` at {}:{} closes nothing — there is no open bracket",
                self.found, self.line, self.col
            ),
            Some(want) => write!(
                f,
                "`{}` at {}:{} does not match: the innermost open bracket wants `{want}`",
                self.found, self.line, self.col
            ),
        }
    }
}

fn closer(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

/// The brackets still open at the end, innermost last, or the first stray closer.
pub fn open_brackets(text: &str, scan: &Scan) -> Result<Vec<Open>, Stray> {
    let mut stack: Vec<Open> = vec![];
    for (at, ch) in text.char_indices() {
        if scan.classes.get(at) != Some(&Class::Code) {
            continue;
        }
        match ch {
            '(' | '[' | '{' => stack.push(Open { ch, at }),
            ')' | ']' | '}' => match stack.last() {
                Some(open) if closer(open.ch) == ch => {
                    stack.pop();
                }
                top => {
                    let (line, col) = line_col(text, at);
                    return Err(Stray {
                        found: ch,
                        expected: top.map(|o| closer(o.ch)),
                        at,
                        line,
                        col,
                    });
                }
            },
            _ => {}
        }
    }
    Ok(stack)
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Whether an input can be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Balance {
    Complete,
    /// Wants another line.
    Incomplete,
    Stray(Stray),
}

pub fn balance(text: &str) -> Balance {
    let s = scan(text);
    match open_brackets(text, &s) {
        Err(stray) => Balance::Stray(stray),
        Ok(open) if !open.is_empty() || s.open_multiline || s.ends_continued => Balance::Incomplete,
        Ok(_) => Balance::Complete,
    }
}

/// The input as Rhai should see it: the `\` that continued a line outside a string is
/// dropped (inside a `"…"` string Rhai handles it itself).
pub fn strip_continuations(text: &str) -> String {
    let s = scan(text);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &at in &s.continuations {
        out.push_str(&text[last..at]);
        last = at + 1;
    }
    out.push_str(&text[last..]);
    out
}

/// The offsets of `_` written as a value in code — the last result, as in Python's REPL:
/// a lone underscore outside strings and comments, not part of a name, and not the
/// catch-all arm of a `switch` (`_ => …`).
pub fn last_result_refs(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let scan = scan(text);
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (0..bytes.len())
        .filter(|&i| {
            bytes[i] == b'_'
                && scan.classes[i] == Class::Code
                && (i == 0 || !ident(bytes[i - 1]))
                && bytes.get(i + 1).is_none_or(|b| !ident(*b))
                && !text[i + 1..].trim_start().starts_with("=>")
        })
        .collect()
}

/// `text` with each [`last_result_refs`] `_` written as `name`.
pub fn with_last_result(text: &str, name: &str) -> String {
    let refs = last_result_refs(text);
    let mut out = String::with_capacity(text.len() + refs.len() * name.len());
    let mut from = 0;
    for i in refs {
        out.push_str(&text[from..i]);
        out.push_str(name);
        from = i + 1;
    }
    out.push_str(&text[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscore_the_value_is_found_and_nothing_else() {
        assert_eq!(
            with_last_result("_.id + f(_) + a_b + \"_\" // _\n", "__last"),
            "__last.id + f(__last) + a_b + \"_\" // _\n"
        );
        assert_eq!(
            with_last_result("switch x { 1 => _ , _ => 0 }", "L"),
            "switch x { 1 => L , _ => 0 }"
        );
    }

    #[test]
    fn open_brackets_continue() {
        assert_eq!(balance("let x = #{"), Balance::Incomplete);
        assert_eq!(balance("let x = #{\n a: 1,"), Balance::Incomplete);
        assert_eq!(
            balance("let x = #{\n a: 1,\n b: \"}\"\n}; x.a + 41"),
            Balance::Complete
        );
        assert_eq!(balance("fn f(a) {\n  [a, (a"), Balance::Incomplete);
        assert_eq!(balance("f(1)[0]"), Balance::Complete);
        assert_eq!(balance(""), Balance::Complete);
    }

    #[test]
    fn brackets_in_strings_chars_and_comments_do_not_count() {
        assert_eq!(balance(r#"print("(((")"#), Balance::Complete);
        assert_eq!(balance(r#"print("a \" {")"#), Balance::Complete);
        assert_eq!(balance("let c = '{';"), Balance::Complete);
        assert_eq!(balance("let c = '\\'';"), Balance::Complete);
        assert_eq!(balance("1 // (\n"), Balance::Complete);
        assert_eq!(balance("1 /* { /* } */ ( */ + 2"), Balance::Complete);
    }

    #[test]
    fn backtick_strings_and_interpolation() {
        assert_eq!(balance("`a { ${ #{x: 1}.x } }`"), Balance::Complete);
        assert_eq!(balance("let s = `two\nlines"), Balance::Incomplete);
        assert_eq!(balance("`${ f(` + \"(\""), Balance::Incomplete);
        assert_eq!(balance("`${ [1, 2].len() }`"), Balance::Complete);
    }

    #[test]
    fn unterminated_block_comment_and_backslash_continue() {
        assert_eq!(balance("1 + /* note"), Balance::Incomplete);
        assert_eq!(balance("let x = 1 + \\"), Balance::Incomplete);
        assert_eq!(balance("let x = 1 + \\  "), Balance::Incomplete);
        assert_eq!(balance("let s = \"one \\"), Balance::Incomplete);
        assert_eq!(balance("let x = 1 + \\\n 2;"), Balance::Complete);
        // An unterminated "…" string is the compiler's to report, not a reason to wait.
        assert_eq!(balance("let s = \"oops"), Balance::Complete);
    }

    #[test]
    fn a_stray_closer_is_flagged_with_its_place() {
        let Balance::Stray(s) = balance("let y = 1)") else {
            panic!("not flagged")
        };
        assert_eq!((s.found, s.expected, s.line, s.col), (')', None, 1, 10));
        assert!(s.to_string().contains("closes nothing"), "{s}");
        let Balance::Stray(s) = balance("let a = [1,\n 2)") else {
            panic!("not flagged")
        };
        assert_eq!((s.found, s.expected, s.line, s.col), (')', Some(']'), 2, 3));
        assert_eq!(balance("print(\")\")"), Balance::Complete);
    }

    #[test]
    fn continuations_are_dropped_outside_strings_only() {
        assert_eq!(
            strip_continuations("let x = 1 + \\\n 2;"),
            "let x = 1 + \n 2;"
        );
        let s = "let s = \"a \\\n b\";";
        assert_eq!(strip_continuations(s), s);
        assert_eq!(strip_continuations("a \\ b"), "a \\ b");
    }

    #[test]
    fn classes_mark_strings_and_comments() {
        let text = "f(\"x(\") // y";
        let s = scan(text);
        assert_eq!(s.classes[0], Class::Code);
        assert_eq!(s.classes[3], Class::Text);
        assert_eq!(s.classes[text.len() - 1], Class::Comment);
        assert_eq!(scan("f(\"ab").end, End::Text);
        assert_eq!(scan("f(ab").end, End::Code);
    }
}
