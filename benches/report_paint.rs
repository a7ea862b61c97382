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
        let tab = driven.browser.new_tab().expect("a tab");
        tab.navigate_to(&url)
            .and_then(|t| t.wait_until_navigated())
            .expect("the report opens");
        // Paint entries arrive after the first frame; wait for them.
        let js = "(() => { const p = performance.getEntriesByName('first-contentful-paint')[0]; \
                  const n = performance.getEntriesByType('navigation')[0]; \
                  return p && n && n.loadEventEnd > 0 ? p.startTime + ' ' + n.loadEventEnd : null; })()";
        let got = (0..400)
            .find_map(|_| {
                let v = tab.evaluate(js, false).ok().and_then(|r| r.value);
                match v.as_ref().and_then(|v| v.as_str()) {
                    Some(s) => Some(s.to_string()),
                    None => {
                        std::thread::sleep(std::time::Duration::from_millis(25));
                        None
                    }
                }
            })
            .expect("Chromium reported a first contentful paint within 10 s");
        let mut parts = got.split(' ').map(|x| x.parse::<f64>().unwrap_or(f64::NAN));
        paints.push(parts.next().unwrap_or(f64::NAN));
        loads.push(parts.next().unwrap_or(f64::NAN));
        let _ = tab.close(false);
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
