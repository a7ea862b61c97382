//! The campaign report: one record per source row — row (line), key, action, invitation
//! id, url, status, error code, message — written as CSV and as JSON while the campaign
//! runs, so a report of any size never sits in memory. Both files are created 0600: they
//! hold clients' emails and phones.

use super::results::RowResult;
use crate::files::neutralise;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub struct Report {
    csv: csv::Writer<BufWriter<std::fs::File>>,
    json: BufWriter<std::fs::File>,
    first: bool,
    paths: (PathBuf, PathBuf),
}

fn io(path: &Path, e: impl std::fmt::Display) -> String {
    format!("cannot write report {}: {e}", path.display())
}

impl Report {
    /// Creates `<base>.csv` and `<base>.json`.
    pub fn create(base: &Path) -> Result<Report, String> {
        let csv_path = PathBuf::from(format!("{}.csv", base.display()));
        let json_path = PathBuf::from(format!("{}.json", base.display()));
        let csv_file =
            crate::files::create_private_file(&csv_path).map_err(|e| io(&csv_path, e))?;
        let json_file =
            crate::files::create_private_file(&json_path).map_err(|e| io(&json_path, e))?;
        let mut csv = csv::Writer::from_writer(BufWriter::new(csv_file));
        csv.write_record([
            "row",
            "key",
            "action",
            "invitation_id",
            "url",
            "status",
            "error_code",
            "message",
        ])
        .map_err(|e| io(&csv_path, e))?;
        let mut json = BufWriter::new(json_file);
        json.write_all(b"[").map_err(|e| io(&json_path, e))?;
        Ok(Report {
            csv,
            json,
            first: true,
            paths: (csv_path, json_path),
        })
    }

    pub fn paths(&self) -> (&Path, &Path) {
        (&self.paths.0, &self.paths.1)
    }

    pub fn write(&mut self, r: &RowResult) -> Result<(), String> {
        let cell = |v: &Option<String>| neutralise(v.as_deref().unwrap_or(""));
        self.csv
            .write_record([
                r.row.to_string(),
                cell(&r.key),
                r.action.as_str().to_string(),
                cell(&r.invitation_id),
                cell(&r.url),
                cell(&r.status),
                cell(&r.error_code),
                cell(&r.message),
            ])
            .map_err(|e| io(&self.paths.0, e))?;
        let sep: &[u8] = if self.first { b"\n" } else { b",\n" };
        self.first = false;
        self.json.write_all(sep).map_err(|e| io(&self.paths.1, e))?;
        serde_json::to_writer(&mut self.json, r).map_err(|e| io(&self.paths.1, e))
    }

    pub fn finish(mut self) -> Result<(), String> {
        self.csv.flush().map_err(|e| io(&self.paths.0, e))?;
        self.json
            .write_all(b"\n]\n")
            .map_err(|e| io(&self.paths.1, e))?;
        self.json.flush().map_err(|e| io(&self.paths.1, e))
    }
}
