//! The campaign report as one self-contained HTML page: the funnel and the ways out of it
//! as inline SVG with their counts and percentages, completions over time, median and p90
//! time to complete, and a table of every row (client, status, invitation link, created,
//! last change, error) — sortable and filterable by status with a few lines of plain
//! JavaScript, and complete without it.
//!
//! Self-contained means no network at all: no external script, style, font or image, and
//! a Content-Security-Policy that forbids fetching anything and runs only the page's own
//! script (by its hash). Every value that came from a CSV or the API is escaped, so a
//! client named `<script>` is text. This file renders a string; writing it is the
//! caller's job.

use super::funnel::{self, Funnel};
use super::journal::Entry;
use super::report_svg;
use crate::api::Timestamp;
use base64::Engine as _;
use html_escape::encode_safe as esc;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Sorting by a column header and filtering by status. Kept short: the table is whole
/// and readable without it.
const SCRIPT: &str = r#"(function () {
  var table = document.getElementById("row-table"), body = table.tBodies[0];
  var form = document.getElementById("filter"), select = form.querySelector("select");
  var shown = form.querySelector("output"), heads = table.tHead.rows[0].cells;
  function filter() {
    var want = select.value, n = 0;
    for (var r of body.rows) { r.hidden = want !== "" && r.cells[2].textContent !== want; if (!r.hidden) n++; }
    shown.textContent = n + " of " + body.rows.length + " rows";
  }
  function sort(i) {
    var dir = heads[i].getAttribute("aria-sort") === "ascending" ? -1 : 1;
    for (var h of heads) h.removeAttribute("aria-sort");
    heads[i].setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    var rows = Array.from(body.rows), key = function (r) { return r.cells[i] ? r.cells[i].textContent : ""; };
    rows.sort(function (a, b) { return dir * (i === 0 ? key(a) - key(b) : key(a).localeCompare(key(b))); });
    var frag = document.createDocumentFragment(); rows.forEach(function (r) { frag.appendChild(r); }); body.appendChild(frag);
  }
  Array.prototype.forEach.call(heads, function (h, i) {
    h.tabIndex = 0; h.title = "Sort"; h.style.cursor = "pointer";
    h.addEventListener("click", function () { sort(i); });
    h.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(i); });
  });
  select.addEventListener("change", filter);
  // Every row is shown at first: say so without touching 10,000 rows.
  shown.textContent = body.rows.length + " of " + body.rows.length + " rows";
  form.hidden = false;
})();"#;

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2330;margin:0;background:#f6f7fb}\
main{max-width:70rem;margin:0 auto;padding:1.5rem}h1{margin:.2rem 0;font-size:1.6rem}h2{font-size:1.1rem;margin:0 0 .6rem}\
.meta{color:#5a6275;margin:.2rem 0}.stale{color:#8a5a00}section{background:#fff;border:1px solid #e2e5ee;border-radius:8px;padding:1rem 1.2rem;margin:1rem 0}\
.cols{display:flex;flex-wrap:wrap;gap:1rem}.cols>div{flex:1 1 30rem}.chart{max-width:100%;height:auto;font-size:13px}\
.chart text{fill:#1d2330}.chart .v{fill:#5a6275}.bg{fill:#eef1f6}.st{fill:#4f7cff}.ok{fill:#1f9d55}.out{fill:#c9a227}.bad{fill:#d64545}\
.axis{stroke:#9aa1b2}polyline.cum{fill:none;stroke:#1d2330;stroke-width:1.5}text.cum{fill:#1d2330}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eceef4;vertical-align:top;overflow-wrap:anywhere}\
.numbers td:nth-child(n+2),.numbers th:nth-child(n+2){text-align:right}.numbers{width:auto;min-width:20rem}\
#row-table{font-size:13px;table-layout:fixed}#row-table col.n{width:3.5rem}#row-table col.s{width:7rem}#row-table col.i{width:12rem}#row-table col.t{width:10rem}#row-table td{border:0}#row-table tr{border-bottom:1px solid #eceef4}#row-table td:first-child{color:#5a6275}#row-table th,#row-table td:nth-child(5),#row-table td:nth-child(6){white-space:nowrap}\
th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}\
.figs{display:flex;gap:2rem;flex-wrap:wrap}.figs b{display:block;font-size:1.6rem}form{margin:0 0 .6rem}";

/// How the report writes a moment: UTC, to the minute.
pub fn when(t: &Timestamp) -> String {
    t.0.format("%Y-%m-%d %H:%M").to_string()
}

fn when_ms(ms: Option<i64>) -> String {
    ms.map(|m| when(&Timestamp::from_millis(m)))
        .unwrap_or_default()
}

/// `3 h 12 min`, `2 d 4 h`, `45 s`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as i64;
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 86_400 && s % 3_600 < 60 => format!("{} h", s / 3_600),
        s if s < 86_400 => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
        s if s % 86_400 < 3_600 => format!("{} d", s / 86_400),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3_600),
    }
}

fn script_hash() -> String {
    let digest = Sha256::digest(SCRIPT.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn numbers(f: &Funnel) -> String {
    let s = &f.funnel;
    let o = &f.outcomes;
    let p = &f.percent;
    let invited_pct = if s.invited > 0 { 100.0 } else { 0.0 };
    let mut out = String::from(
        "<table class=\"numbers\"><thead><tr><th>stage</th><th>clients</th><th>share</th></tr></thead><tbody>",
    );
    let rows: [(&str, &str, i64, f64, &str); 10] = [
        ("invited", "invited", s.invited, invited_pct, "of invited"),
        ("viewed", "viewed", s.viewed, p.viewed, "of invited"),
        ("started", "started", s.started, p.started, "of invited"),
        (
            "completed",
            "completed",
            s.completed,
            p.completed,
            "of invited",
        ),
        ("expired", "expired", o.expired, p.expired, "of invited"),
        (
            "cancelled",
            "cancelled",
            o.cancelled,
            p.cancelled,
            "of invited",
        ),
        (
            "failed",
            "failed (signup not finished)",
            o.failed,
            p.failed,
            "of invited",
        ),
        (
            "invalid",
            "invalid (refused, not sent)",
            o.invalid,
            p.invalid,
            "of rows",
        ),
        (
            "not-sent",
            "not sent (retried on re-run)",
            o.not_sent,
            p.not_sent,
            "of rows",
        ),
        (
            "already-invited",
            "already invited elsewhere (not sent)",
            o.already_invited,
            p.already_invited,
            "of rows",
        ),
    ];
    for (id, label, n, pct, of) in rows {
        let _ = write!(
            out,
            "<tr id=\"n-{id}\" data-n=\"{n}\"><td>{label}</td><td>{n}</td><td>{pct}% {of}</td></tr>"
        );
    }
    out.push_str("</tbody></table>");
    out
}

fn timing(f: &Funnel) -> String {
    let t = &f.time_to_complete;
    let fig = |id: &str, label: &str, v: Option<f64>| {
        format!(
            "<div id=\"{id}\"{data}><b>{}</b>{label}</div>",
            v.map(duration).unwrap_or_else(|| "—".into()),
            data = v
                .map(|s| format!(" data-seconds=\"{s}\""))
                .unwrap_or_default()
        )
    };
    format!(
        "<div class=\"figs\">{}{}<div id=\"t-measured\" data-n=\"{n}\"><b>{n}</b>completions measured</div></div>",
        fig("t-median", "median time to complete", t.median_seconds),
        fig("t-p90", "p90 time to complete", t.p90_seconds),
        n = t.measured,
    )
}

fn filter(rows: &[Entry]) -> String {
    let mut statuses: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in rows {
        *statuses.entry(funnel::row_status(e)).or_default() += 1;
    }
    let mut out = String::from(
        "<form id=\"filter\" hidden><label>Status <select><option value=\"\">all</option>",
    );
    for (s, n) in statuses {
        let _ = write!(out, "<option value=\"{0}\">{0} ({n})</option>", esc(s));
    }
    out.push_str("</select></label> <output></output></form>");
    out
}

fn linkable(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// The folder every invitation link lives in (`https://…/invite/`), when they all share
/// one and what follows it is a plain token: the page then says it once, as its
/// `<base href>`, and each row links to its token alone — a third of a 10,000-row file.
fn link_base(rows: &[Entry]) -> Option<&str> {
    let mut urls = rows
        .iter()
        .filter_map(|e| e.url.as_deref())
        .filter(|u| linkable(u));
    let first = urls.next()?;
    let base = &first[..first.rfind('/')? + 1];
    let plain = |u: &str| {
        u.strip_prefix(base).is_some_and(|token| {
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    };
    (base.len() > "https://".len() && plain(first) && urls.all(plain)).then_some(base)
}

/// One table row. End tags of cells and rows are left out (valid HTML), and so is an
/// empty last cell: at 10,000 rows they would be a tenth of the file.
fn row(out: &mut String, e: &Entry, base: Option<&str>) {
    let client = e.client_name.as_deref().unwrap_or(&e.key);
    let link = match (&e.url, &e.invitation_id) {
        (Some(url), Some(id)) if linkable(url) => {
            let href = base.and_then(|b| url.strip_prefix(b)).unwrap_or(url);
            format!("<a href=\"{}\">{}</a>", esc(href), esc(id))
        }
        (_, Some(id)) => esc(id).into_owned(),
        _ => String::new(),
    };
    let created = e.life.created_ms.or(match e.state {
        super::journal::RowState::Created => e.attempt_at_ms,
        _ => None,
    });
    let _ = write!(
        out,
        "<tr><td>{}<td>{}<td>{}<td>{link}<td>{}<td>{}",
        e.line.unwrap_or(0),
        esc(client),
        esc(funnel::row_status(e)),
        when_ms(created),
        when_ms(Some(funnel::last_change_ms(e))),
    );
    match funnel::row_error(e) {
        Some(error) if !error.is_empty() => {
            let _ = writeln!(out, "<td>{}", esc(&error));
        }
        _ => out.push('\n'),
    }
}

/// The whole page.
pub fn render(f: &Funnel, rows: &[Entry], generated: &Timestamp) -> String {
    let mut out = String::with_capacity(4_096 + rows.len() * 200);
    let name = esc(&f.name);
    let as_of = match (&f.as_of, f.refreshed) {
        (Some(t), true) => format!(
            "statuses as of <time datetime=\"{t}\">{} UTC</time>, refreshed from the API",
            when(t)
        ),
        (Some(t), false) => format!(
            "<span class=\"stale\">statuses as the last run recorded them, <time datetime=\"{t}\">{} UTC</time>; not refreshed from the API since (<code>campaign report {name} --refresh</code>)</span>",
            when(t)
        ),
        (None, _) => "no rows yet".to_string(),
    };
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
    <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{hash}'\">\
    <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
    <meta name=\"generator\" content=\"zavu-script {version}\">{base}\
    <title>{name} — campaign report</title><style>{STYLE}</style></head><body><main>\
    <header><p class=\"meta\">Campaign report</p><h1 id=\"campaign\">{name}</h1>\
    <p class=\"meta\">{target} · {rows} rows · {as_of}</p>\
    <p class=\"meta\">Generated <time datetime=\"{generated}\">{gen} UTC</time> by zavu-script.</p></header>\
    <section id=\"funnel\"><h2>Funnel</h2><div class=\"cols\"><div>{funnel_svg}{outcomes_svg}</div><div>{numbers}</div></div></section>\
    <section id=\"timing\"><h2>Time to complete</h2>{timing}</section>",
        hash = script_hash(),
        base = link_base(rows)
            .map(|b| format!("<base href=\"{}\">", esc(b)))
            .unwrap_or_default(),
        version = env!("CARGO_PKG_VERSION"),
        target = esc(&f.target),
        rows = f.rows,
        gen = when(generated),
        funnel_svg = report_svg::funnel(f),
        outcomes_svg = report_svg::outcomes(f),
        numbers = numbers(f),
        timing = timing(f),
    );
    let t = &f.completions;
    if t.buckets.is_empty() {
        out.push_str("<section id=\"over-time\"><h2>Completions over time</h2><p>Nothing invited yet.</p></section>");
    } else {
        let _ = write!(
            out,
            "<section id=\"over-time\"><h2>Completions over time</h2><p class=\"meta\">Per {}, UTC, since the first invitation; the line is the running total.</p>{}</section>",
            esc(&t.bucket),
            report_svg::timeline(t, when)
        );
    }
    let _ = writeln!(
        out,
        "<section id=\"rows\"><h2>Every row</h2>{}<table id=\"row-table\"><colgroup><col class=\"n\"><col><col class=\"s\"><col class=\"i\"><col class=\"t\"><col class=\"t\"><col></colgroup><thead><tr><th>row</th><th>client</th><th>status</th><th>invitation</th><th>created (UTC)</th><th>last change (UTC)</th><th>error</th></tr></thead><tbody>",
        filter(rows)
    );
    let base = link_base(rows);
    for e in rows {
        row(&mut out, e, base);
    }
    let _ = writeln!(
        out,
        "</tbody></table></section></main><script>{SCRIPT}</script></body></html>"
    );
    out
}

/// Renders the page into `path`, created 0600 (it names clients), replacing any older
/// file only once the new one is whole. Returns the page's size in bytes.
pub fn write(
    path: &std::path::Path,
    f: &Funnel,
    rows: &[Entry],
    generated: &Timestamp,
) -> std::io::Result<u64> {
    let page = render(f, rows, generated);
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = std::path::PathBuf::from(partial);
    let written = crate::files::create_private_file(&partial)
        .and_then(|mut file| {
            use std::io::Write as _;
            file.write_all(page.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written.map(|()| page.len() as u64)
}

/// A file name for a campaign's report when none is given: `<name>.report.html`, with
/// anything but letters, digits, `-`, `_` and `.` made `-`.
pub fn default_file_name(campaign: &str) -> String {
    let safe: String = campaign
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}.report.html", safe.trim_start_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::super::journal::{Lifecycle, RowState};
    use super::*;

    fn entry(name: &str, status: &str, url: &str) -> Entry {
        Entry {
            key: "k@x.co".into(),
            line: Some(2),
            state: RowState::Created,
            attempt_at_ms: Some(0),
            attempts: 1,
            invitation_id: Some("inv1".into()),
            url: Some(url.into()),
            inv_status: Some(status.into()),
            error_code: None,
            error_message: None,
            match_email: None,
            match_phone: None,
            updated_at_ms: 0,
            client_name: Some(name.into()),
            life: Lifecycle {
                created_ms: Some(0),
                ..Lifecycle::default()
            },
        }
    }

    #[test]
    fn values_from_a_csv_or_the_api_are_text() {
        let rows = vec![
            entry(
                "<script>alert(1)</script>",
                "pending",
                "javascript:alert(2)",
            ),
            entry(
                "A \"quoted\" & <b>bold</b>",
                "completed",
                "http://x/invite/\"><script>",
            ),
        ];
        let f = funnel::compute("<img src=x>", "http://x", &rows, Some(0), true);
        let page = render(&f, &rows, &Timestamp::from_millis(0));
        assert!(!page.contains("<script>alert"), "raw markup from data");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
        assert!(!page.contains("<img src=x>"));
        assert!(!page.contains("href=\"javascript:"), "only http(s) links");
        assert!(
            page.contains("href=\"http:&#x2F;&#x2F;x&#x2F;invite&#x2F;&quot;&gt;&lt;script&gt;\"")
        );
        // Exactly one script element: the page's own, allowed by its hash.
        assert_eq!(page.matches("<script").count(), 1);
        assert!(page.contains(&format!("script-src 'sha256-{}'", script_hash())));
        assert!(page.contains("<tr id=\"n-completed\" data-n=\"1\">"));
    }

    #[test]
    fn links_in_one_folder_are_written_once() {
        let rows = vec![
            entry("A", "pending", "https://app.zavu.dev/invite/tok1"),
            entry("B", "pending", "https://app.zavu.dev/invite/tok2"),
        ];
        let f = funnel::compute("c", "x", &rows, None, false);
        let page = render(&f, &rows, &Timestamp::from_millis(0));
        assert!(page.contains("<base href=\"https:&#x2F;&#x2F;app.zavu.dev&#x2F;invite&#x2F;\">"));
        assert!(page.contains("<a href=\"tok2\">inv1</a>"));
        // Links elsewhere, or a token that is not plain: every link whole.
        let mut mixed = rows.clone();
        mixed.push(entry("C", "pending", "https://other.example/invite/tok3"));
        assert_eq!(link_base(&mixed), None);
        let odd = vec![entry("D", "pending", "https://app.zavu.dev/invite/a:b")];
        assert_eq!(link_base(&odd), None);
    }

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(duration(45.0), "45 s");
        assert_eq!(duration(150.0), "2 min");
        assert_eq!(duration(3.0 * 3600.0 + 720.0), "3 h 12 min");
        assert_eq!(duration(10.0 * 3600.0), "10 h");
        assert_eq!(duration(86_400.0 + 60.0), "1 d");
        assert_eq!(duration(2.0 * 86_400.0 + 4.0 * 3600.0), "2 d 4 h");
    }
}
