//! The report's charts as inline SVG, generated here: the funnel as horizontal bars (and
//! the ways out beside it), and completions over time as columns with a cumulative line.
//! No charting runtime, no fonts or images fetched: plain `<svg>` text that renders from
//! a file or an email attachment. Every number drawn is also in the page's text, so the
//! charts carry no information a screen reader or a test could not read elsewhere.
//!
//! Labels here are the report's own words and numbers, never user data, but they are
//! escaped all the same.

use super::funnel::{Funnel, Timeline};
use html_escape::encode_safe as esc;
use std::fmt::Write;

const W: f64 = 640.0;
const LABEL: f64 = 110.0;
const BAR_H: f64 = 30.0;
const GAP: f64 = 10.0;

/// One horizontal bar chart: `(label, count, percent, css class)` per bar, scaled to `of`.
fn bars(title: &str, items: &[(&str, i64, f64, &str)], of: i64) -> String {
    let height = items.len() as f64 * (BAR_H + GAP) + GAP;
    let span = W - LABEL - 150.0;
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {height}\" width=\"{W}\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    for (i, (label, count, pct, class)) in items.iter().enumerate() {
        let y = GAP + i as f64 * (BAR_H + GAP);
        let w = if of > 0 {
            (span * *count as f64 / of as f64).max(if *count > 0 { 2.0 } else { 0.0 })
        } else {
            0.0
        };
        let _ = write!(
            s,
            "<g><title>{label}: {count} ({pct}%)</title>\
<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
<rect class=\"bg\" x=\"{LABEL}\" y=\"{y}\" width=\"{span}\" height=\"{BAR_H}\" rx=\"3\"/>\
<rect class=\"{class}\" x=\"{LABEL}\" y=\"{y}\" width=\"{w:.1}\" height=\"{BAR_H}\" rx=\"3\"/>\
<text x=\"{vx}\" y=\"{ty}\" class=\"v\">{count} · {pct}%</text></g>",
            label = esc(label),
            class = esc(class),
            lx = LABEL - 8.0,
            ty = y + BAR_H / 2.0 + 5.0,
            vx = LABEL + span + 8.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// The funnel, each stage as a share of the invited.
pub fn funnel(f: &Funnel) -> String {
    let s = &f.funnel;
    let p = &f.percent;
    bars(
        "Funnel: invited, viewed, started, completed",
        &[
            (
                "invited",
                s.invited,
                if s.invited > 0 { 100.0 } else { 0.0 },
                "st",
            ),
            ("viewed", s.viewed, p.viewed, "st"),
            ("started", s.started, p.started, "st"),
            ("completed", s.completed, p.completed, "ok"),
        ],
        s.invited,
    )
}

/// The ways out: expired, cancelled and failed of the invited; invalid and not sent of
/// all rows.
pub fn outcomes(f: &Funnel) -> String {
    let o = &f.outcomes;
    let p = &f.percent;
    bars(
        "Beside the funnel: expired, cancelled, failed, invalid, not sent, already invited",
        &[
            ("expired", o.expired, p.expired, "out"),
            ("cancelled", o.cancelled, p.cancelled, "out"),
            ("failed", o.failed, p.failed, "bad"),
            ("invalid", o.invalid, p.invalid, "bad"),
            ("not sent", o.not_sent, p.not_sent, "bad"),
            (
                "already invited",
                o.already_invited,
                p.already_invited,
                "out",
            ),
        ],
        f.funnel.invited.max(f.rows),
    )
}

/// Completions per bucket as columns, the running total as a line on its own scale.
pub fn timeline(t: &Timeline, fmt: impl Fn(&crate::api::Timestamp) -> String) -> String {
    let (h, top, bottom, left, right) = (220.0, 16.0, 28.0, 40.0, 48.0);
    let n = t.buckets.len().max(1) as f64;
    let plot_w = W - left - right;
    let plot_h = h - top - bottom;
    let max = t
        .buckets
        .iter()
        .map(|b| b.completed)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let total = t.buckets.last().map(|b| b.cumulative).unwrap_or(0).max(1) as f64;
    // Columns no wider than 40 px: a young campaign's few buckets stay readable as such.
    let col = (plot_w / n).min(40.0);
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"Completions per {} since the campaign started\">",
        esc(&t.bucket)
    );
    let base = top + plot_h;
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{left}\" y1=\"{base}\" x2=\"{x2}\" y2=\"{base}\"/>\
<text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{max}</text>\
<text x=\"{tx}\" y=\"{base}\" text-anchor=\"end\">0</text>\
<text x=\"{rx}\" y=\"{ty}\" class=\"cum\">{total}</text>",
        x2 = left + col * n,
        tx = left - 6.0,
        ty = top + 10.0,
        rx = left + col * n + 6.0,
        max = max as i64,
        total = total as i64,
    );
    let mut line = String::new();
    for (i, b) in t.buckets.iter().enumerate() {
        let x = left + i as f64 * col;
        let bh = plot_h * b.completed as f64 / max;
        let _ = write!(
            s,
            "<rect class=\"ok\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bh:.1}\"><title>{when}: {c} completed, {cum} in all</title></rect>",
            y = base - bh,
            w = (col - 1.0).max(1.0),
            when = esc(&fmt(&b.start)),
            c = b.completed,
            cum = b.cumulative,
        );
        let _ = write!(
            line,
            "{:.1},{:.1} ",
            x + col / 2.0,
            base - plot_h * b.cumulative as f64 / total
        );
    }
    let _ = write!(
        s,
        "<polyline class=\"cum\" points=\"{}\"/>",
        line.trim_end()
    );
    if let Some(first) = t.buckets.first() {
        let _ = write!(
            s,
            "<text x=\"{left}\" y=\"{y}\">{}</text>",
            esc(&fmt(&first.start)),
            y = h - 8.0
        );
    }
    if let (true, Some(last)) = (t.buckets.len() > 1, t.buckets.last()) {
        let _ = write!(
            s,
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"end\">{}</text>",
            esc(&fmt(&last.start)),
            y = h - 8.0,
            x = left + col * n,
        );
    }
    s.push_str("</svg>");
    s
}
