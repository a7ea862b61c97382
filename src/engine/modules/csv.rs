//! `csv::read(path)` and `csv::write(path, rows[, columns])`.
//!
//! Reading yields one map per row, keyed by the header row; cells are trimmed and an empty
//! cell is `()`, so passing it straight into API parameters leaves the field out (defaults
//! apply). BOM, CRLF and quoted fields are handled by the `csv` crate; a row with the wrong
//! number of fields is an error naming its line. Writing neutralises cells a spreadsheet
//! would run as a formula, and creates files readable only by their owner: reports hold
//! clients' emails and phones.

use rhai::{Array, Dynamic, EvalAltResult, FuncRegistration, Map, Module};
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// One data row of a CSV file: its line number and its cells by header name, or what is
/// wrong with it.
pub struct CsvRow {
    pub line: u64,
    pub cells: Result<Vec<(String, String)>, String>,
}

/// Streams the rows of a CSV file with a header row, one at a time, so a file of any
/// size never sits in memory whole.
pub struct CsvRows {
    path: PathBuf,
    reader: csv::Reader<CrlfToLf<std::fs::File>>,
    blanks: BlankRuns,
    quotes: QuoteCount,
    headers: Vec<String>,
    record: csv::StringRecord,
    /// A record read ahead to learn whether the one before it was the last.
    ahead: Option<Result<csv::StringRecord, csv::Error>>,
}

impl CsvRows {
    pub fn open(path: &Path) -> Result<CsvRows, String> {
        if path.is_dir() {
            return Err(format!("{} is a directory, not a CSV file", path.display()));
        }
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let normalised = CrlfToLf::new(file);
        let blanks = normalised.blank_runs();
        let quotes = normalised.quote_count();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(normalised);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| format!("{}: cannot read the header row: {e}", path.display()))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if headers.iter().all(String::is_empty) {
            return Err(format!("{}:1: the file has no header row", path.display()));
        }
        for (i, h) in headers.iter().enumerate() {
            if h.is_empty() {
                return Err(format!(
                    "{}:1: column {} has an empty header",
                    path.display(),
                    i + 1
                ));
            }
            if headers[..i].contains(h) {
                return Err(format!(
                    "{}:1: the header {h:?} appears twice",
                    path.display()
                ));
            }
        }
        Ok(CsvRows {
            path: path.to_path_buf(),
            reader,
            blanks,
            quotes,
            headers,
            record: csv::StringRecord::new(),
            ahead: None,
        })
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Whether the record just read was the file's last (reading one ahead to know).
    fn is_last(&mut self) -> bool {
        let mut probe = csv::StringRecord::new();
        match self.reader.read_record(&mut probe) {
            Ok(false) => true,
            other => {
                self.ahead = Some(other.map(|_| probe));
                false
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Iterator for CsvRows {
    type Item = CsvRow;

    fn next(&mut self) -> Option<CsvRow> {
        loop {
            let got = match self.ahead.take() {
                Some(Ok(record)) => {
                    self.record = record;
                    Ok(true)
                }
                Some(Err(e)) => Err(e),
                None => self.reader.read_record(&mut self.record),
            };
            match got {
                Ok(false) => return None,
                Ok(true) => {
                    let line = self
                        .record
                        .position()
                        .map(|p| p.line() + self.blanks.skip_at(p.byte()))
                        .unwrap_or(0);
                    // A blank line is not a row.
                    if self.record.iter().all(|c| c.trim().is_empty()) {
                        continue;
                    }
                    let n = self.record.len();
                    let unterminated = self.quotes.is_odd()
                        && self.record.iter().any(|c| c.contains('\n'))
                        && self.is_last();
                    let cells = if unterminated {
                        Err("a quoted cell that starts on this line is never closed (unterminated \"); \
                             the rest of the file was read as that one cell — add the closing quote"
                            .to_string())
                    } else if n != self.headers.len() {
                        Err(format!(
                            "row has {n} field{} but the header has {}",
                            if n == 1 { "" } else { "s" },
                            self.headers.len()
                        ))
                    } else {
                        Ok(self
                            .headers
                            .iter()
                            .zip(self.record.iter())
                            .map(|(h, c)| (h.clone(), c.trim().to_string()))
                            .collect())
                    };
                    return Some(CsvRow { line, cells });
                }
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    let message = match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_string(),
                        _ => e.to_string(),
                    };
                    // The reader may not recover from an I/O error; stop after reporting it.
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        self.headers.clear();
                    }
                    return Some(CsvRow {
                        line,
                        cells: Err(message),
                    });
                }
            }
        }
    }
}

/// Turns CRLF line ends into LF on the fly, and notes where blank lines are.
///
/// Row numbers are what users act on, and the `csv` crate gets two cases wrong: after a
/// CRLF terminator it reports a record's line one too low, and a record that follows blank
/// lines is reported at the first blank line. Normalising line ends fixes the first;
/// the blank-line runs recorded here fix the second (see [`BlankRuns::skip_at`]).
pub struct CrlfToLf<R> {
    inner: R,
    raw: Vec<u8>,
    ready: Vec<u8>,
    pos: usize,
    /// A `\r` at the end of the last chunk, not yet known to precede a `\n`.
    held_cr: bool,
    emitted: u64,
    last_was_newline: bool,
    blanks: BlankRuns,
    quotes: QuoteCount,
}

/// Runs of blank lines in the normalised stream: (offset of the first `\n`, how many).
#[derive(Clone, Default)]
pub struct BlankRuns(Arc<Mutex<VecDeque<(u64, u64)>>>);

impl BlankRuns {
    fn push(&self, offset: u64) {
        let mut runs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match runs.back_mut() {
            Some((start, len)) if *start + *len == offset => *len += 1,
            _ => runs.push_back((offset, 1)),
        }
    }

    /// How many blank lines a record that the `csv` crate places at byte `offset` really
    /// skipped before it began.
    pub fn skip_at(&self, offset: u64) -> u64 {
        let mut runs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        while runs.front().is_some_and(|(start, _)| *start < offset) {
            runs.pop_front();
        }
        match runs.front() {
            Some((start, len)) if *start == offset => *len,
            _ => 0,
        }
    }
}

/// How many `"` the stream has passed on so far. In well-formed CSV every quoted field
/// holds an even number of them, so an odd count at the end of the input means a quote
/// was opened and never closed — which the `csv` crate does not report: it reads the rest
/// of the file as one cell.
#[derive(Clone, Default)]
pub struct QuoteCount(Arc<std::sync::atomic::AtomicU64>);

impl QuoteCount {
    fn add(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_odd(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed) % 2 == 1
    }
}

impl<R: std::io::Read> CrlfToLf<R> {
    pub fn new(inner: R) -> Self {
        CrlfToLf {
            inner,
            raw: vec![0; 64 * 1024],
            ready: Vec::with_capacity(64 * 1024),
            pos: 0,
            held_cr: false,
            emitted: 0,
            last_was_newline: false,
            blanks: BlankRuns::default(),
            quotes: QuoteCount::default(),
        }
    }

    pub fn blank_runs(&self) -> BlankRuns {
        self.blanks.clone()
    }

    pub fn quote_count(&self) -> QuoteCount {
        self.quotes.clone()
    }

    fn emit(&mut self, b: u8) {
        if b == b'\n' {
            if self.last_was_newline {
                self.blanks.push(self.emitted);
            }
            self.last_was_newline = true;
        } else {
            self.last_was_newline = false;
            if b == b'"' {
                self.quotes.add();
            }
        }
        self.ready.push(b);
        self.emitted += 1;
    }
}

impl<R: std::io::Read> std::io::Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.ready.len() {
            let n = self.inner.read(&mut self.raw)?;
            self.ready.clear();
            self.pos = 0;
            if n == 0 {
                // End of input: a held `\r` was a lone one; give it back.
                if std::mem::take(&mut self.held_cr) {
                    self.emit(b'\r');
                    break;
                }
                return Ok(0);
            }
            let mut pending = std::mem::take(&mut self.held_cr);
            for i in 0..n {
                let b = self.raw[i];
                if pending && b != b'\n' {
                    self.emit(b'\r');
                }
                pending = b == b'\r';
                if !pending {
                    self.emit(b);
                }
            }
            self.held_cr = pending;
        }
        let k = out.len().min(self.ready.len() - self.pos);
        out[..k].copy_from_slice(&self.ready[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

/// A row's cells as a script map: trimmed text, `()` for an empty cell.
pub fn row_map(cells: &[(String, String)]) -> Map {
    cells
        .iter()
        .map(|(k, v)| {
            let value = if v.is_empty() {
                Dynamic::UNIT
            } else {
                Dynamic::from(v.clone())
            };
            (k.as_str().into(), value)
        })
        .collect()
}

fn read(path: &str) -> RhaiResult<Array> {
    let rows = CsvRows::open(Path::new(path)).map_err(|e| format!("csv::read: {e}"))?;
    let mut out = Array::new();
    for row in rows {
        match row.cells {
            Ok(cells) => out.push(Dynamic::from_map(row_map(&cells))),
            Err(e) => return Err(format!("csv::read: {path}:{}: {e}", row.line).into()),
        }
    }
    Ok(out)
}

fn cell_text(value: &Dynamic) -> String {
    if value.is_unit() {
        String::new()
    } else if value.is_string() {
        value.clone().into_string().unwrap_or_default()
    } else if value.is_map() || value.is_array() {
        crate::engine::convert::to_json(value)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| value.to_string())
    } else {
        value.to_string()
    }
}

pub fn write_rows(
    path: &Path,
    rows: &Array,
    columns: Option<Vec<String>>,
) -> Result<usize, String> {
    let mut maps = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        match row.read_lock::<Map>() {
            Some(m) => maps.push(m.clone()),
            None => return Err(format!("row {} is a {}, not a map", i + 1, row.type_name())),
        }
    }
    let columns = columns.unwrap_or_else(|| {
        let mut cols: Vec<String> = vec![];
        for m in &maps {
            for k in m.keys() {
                if !cols.iter().any(|c| c == k.as_str()) {
                    cols.push(k.to_string());
                }
            }
        }
        cols
    });
    let file = crate::files::create_private_file(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let io = |e: csv::Error| format!("cannot write {}: {e}", path.display());
    w.write_record(&columns).map_err(io)?;
    for m in &maps {
        let record: Vec<String> = columns
            .iter()
            .map(|c| {
                crate::files::neutralise(&m.get(c.as_str()).map(cell_text).unwrap_or_default())
            })
            .collect();
        w.write_record(&record).map_err(io)?;
    }
    let mut inner = w
        .into_inner()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    inner
        .flush()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(maps.len())
}

/// `csv::stream(path)`: a CSV file read row by row as it is used — in a `for` loop or as a
/// campaign's `rows` — so a file of any size never sits in memory whole.
#[derive(Clone, Debug)]
pub struct CsvStream {
    pub path: PathBuf,
}

impl CsvStream {
    /// Data rows in the file (newlines, less the header): for a progress bar, not a promise.
    pub fn count_hint(&self) -> Option<u64> {
        use std::io::Read;
        let mut f = std::fs::File::open(&self.path).ok()?;
        let mut buf = vec![0u8; 256 * 1024];
        let (mut lines, mut last) = (0u64, b'\n');
        loop {
            let n = f.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            last = buf[n - 1];
        }
        if last != b'\n' {
            lines += 1;
        }
        Some(lines.saturating_sub(1))
    }
}

/// Iterating a stream in a script: one map per row; a bad row stops the loop with its line.
pub struct CsvStreamIter {
    rows: Option<CsvRows>,
    error: Option<String>,
}

impl IntoIterator for CsvStream {
    type Item = RhaiResult<Dynamic>;
    type IntoIter = CsvStreamIter;
    fn into_iter(self) -> CsvStreamIter {
        match CsvRows::open(&self.path) {
            Ok(rows) => CsvStreamIter {
                rows: Some(rows),
                error: None,
            },
            Err(e) => CsvStreamIter {
                rows: None,
                error: Some(format!("csv::stream: {e}")),
            },
        }
    }
}

impl Iterator for CsvStreamIter {
    type Item = RhaiResult<Dynamic>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            return Some(Err(e.into()));
        }
        let rows = self.rows.as_mut()?;
        let row = rows.next()?;
        match row.cells {
            Ok(cells) => Some(Ok(Dynamic::from_map(row_map(&cells)))),
            Err(e) => {
                let msg = format!("csv::stream: {}:{}: {e}", rows.path().display(), row.line);
                self.rows = None;
                Some(Err(msg.into()))
            }
        }
    }
}

pub fn register_types(engine: &mut rhai::Engine) {
    engine
        .register_type_with_name::<CsvStream>("CsvStream")
        .register_fn("to_string", |s: &mut CsvStream| {
            format!("csv::stream({})", s.path.display())
        })
        .register_iterator_result::<CsvStream, Dynamic>();
}

pub fn module() -> Module {
    let mut m = Module::new();
    FuncRegistration::new("stream")
        .with_comments([
            "/// A CSV file read row by row as it is used (in `for`, or as a campaign's `rows`),",
            "/// so files of any size never sit in memory. Rows are maps like `csv::read` gives.",
            "/// ```rhai",
            "/// for row in csv::stream(\"clients.csv\") { print(row.clientEmail); }",
            "/// ```",
        ])
        .with_params_info(["path: &str", "CsvStream"])
        .set_into_module(&mut m, |path: &str| CsvStream {
            path: PathBuf::from(path),
        });
    FuncRegistration::new("read")
        .with_comments([
            "/// Reads a CSV file with a header row into an array of maps keyed by the header.",
            "/// Cells are trimmed; an empty cell is `()`. A ragged row is an error naming its line.",
            "/// ```rhai",
            "/// for row in csv::read(\"clients.csv\") { print(row.clientEmail); }",
            "/// ```",
        ])
        .with_params_info(["path: &str", "Array"])
        .set_into_module(&mut m, read);
    FuncRegistration::new("write")
        .with_comments([
            "/// Writes an array of maps as CSV (columns in order of first appearance); returns the row count.",
            "/// Cells that would start a spreadsheet formula are neutralised. The file is created 0600.",
            "/// ```rhai",
            "/// csv::write(\"report.csv\", [#{ email: \"a@b.co\", status: \"pending\" }]);",
            "/// ```",
        ])
        .with_params_info(["path: &str", "rows: Array", "i64"])
        .set_into_module(&mut m, |path: &str, rows: Array| -> RhaiResult<i64> {
            write_rows(Path::new(path), &rows, None)
                .map(|n| n as i64)
                .map_err(|e| format!("csv::write: {e}").into())
        });
    FuncRegistration::new("write")
        .with_comments([
            "/// Writes rows with exactly these columns, in this order.",
            "/// ```rhai",
            "/// csv::write(\"report.csv\", rows, [\"email\", \"status\"]);",
            "/// ```",
        ])
        .with_params_info(["path: &str", "rows: Array", "columns: Array", "i64"])
        .set_into_module(
            &mut m,
            |path: &str, rows: Array, columns: Array| -> RhaiResult<i64> {
                let cols: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
                write_rows(Path::new(path), &rows, Some(cols))
                    .map(|n| n as i64)
                    .map_err(|e| format!("csv::write: {e}").into())
            },
        );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(text: &[u8]) -> Vec<CsvRow> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, text).unwrap();
        CsvRows::open(&p).unwrap().collect()
    }

    #[test]
    fn bom_crlf_quotes_and_ragged_rows() {
        let rows = rows_of(
            b"\xEF\xBB\xBFname,email\r\n\"Acme, Inc\", a@acme.com \r\n\r\nonly-one\r\nB,\"b@b.co\"\r\n\n\n\"multi\nline\",x\nC,c\n",
        );
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].line, 2);
        assert_eq!(
            rows[0].cells.as_ref().unwrap(),
            &vec![
                ("name".to_string(), "Acme, Inc".to_string()),
                ("email".to_string(), "a@acme.com".to_string())
            ]
        );
        assert_eq!(rows[1].line, 4);
        assert_eq!(
            rows[1].cells.as_ref().unwrap_err(),
            "row has 1 field but the header has 2"
        );
        assert_eq!(rows[2].line, 5);
        assert_eq!(rows[3].line, 8);
        assert_eq!(rows[4].line, 10);
    }

    #[test]
    fn an_unterminated_quote_is_named_with_its_line() {
        let rows = rows_of(b"name,email\nA,a@x.co\n\"Acme,b@x.co\nC,c@x.co\nD,d@x.co\n");
        assert_eq!(rows.len(), 2);
        assert!(rows[0].cells.is_ok());
        assert_eq!(rows[1].line, 3);
        let e = rows[1].cells.as_ref().unwrap_err();
        assert!(e.contains("never closed (unterminated \")"), "{e}");

        // Balanced quotes over several lines, last row included, are fine.
        let rows = rows_of(b"name,email\n\"Ac\nme\",a@x.co\nB,b@x.co\n\"La\nst\",c@x.co");
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.cells.is_ok()));
        assert_eq!(rows[2].line, 5);
    }

    #[test]
    fn crlf_becomes_lf_across_chunk_edges() {
        use std::io::Read;
        let input = b"a\r\nb\rc\r\r\nd\r".to_vec();
        for chunk in 1..=4 {
            let mut r = CrlfToLf::new(std::io::Cursor::new(input.clone()));
            let mut out = vec![];
            let mut buf = vec![0; chunk];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(out, b"a\nb\rc\r\nd\r", "chunk {chunk}");
        }
    }
}
