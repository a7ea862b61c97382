//! How fast Chromium paints a campaign report, by hand:
//!
//!     cargo bench --bench report_paint -- FILE.html [RUNS]
//!
//! Opens the file in headless Chromium (Debian's, found as the browser tests find it),
//! RUNS times (default 5) in a fresh tab each, and prints the median and every run's
//! first-contentful-paint and load-event times, as the page's own Performance API
//! measured them from the start of navigation.

// The browser tests' way of finding and starting Chromium; this bench uses part of it.
#[allow(dead_code)]
#[path = "../tests/integration/support/browser.rs"]
mod browser;

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let file = PathBuf::from(args.next().expect("usage: report_paint FILE.html [RUNS]"));
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let url = browser::file_url(&file);
    let driven = browser::launch();
    let mut paints = Vec::new();
    let mut loads = Vec::new();
    for _ in 0..runs {
        let tab = driven.new_tab();
        tab.navigate(&url);
        // Paint entries arrive after the first frame; wait for them.
        let js = "(() => { const p = performance.getEntriesByName('first-contentful-paint')[0]; \
                  const n = performance.getEntriesByType('navigation')[0]; \
                  return p && n && n.loadEventEnd > 0 ? [p.startTime, n.loadEventEnd] : null; })()";
        let got = (0..400)
            .map(|_| {
                let v = tab.eval(js);
                if v.is_null() {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                v
            })
            .find(|v| !v.is_null())
            .unwrap_or_default();
        let (Some(paint), Some(load)) = (got[0].as_f64(), got[1].as_f64()) else {
            panic!("Chromium reported no first contentful paint within 10 s");
        };
        paints.push(paint);
        loads.push(load);
        tab.call("Page.close", serde_json::json!({}));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let shown = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (p, l) = (paints.clone(), loads.clone());
    println!(
        "{}: {} bytes; first contentful paint median {:.0} ms ({} ms), load event median {:.0} ms ({} ms), {runs} runs",
        file.display(),
        size,
        median(&mut paints),
        shown(&p),
        median(&mut loads),
        shown(&l),
    );
}
