//! Suite-independent results: a table for people and one JSON line for tools.
//!
//! The first library column is the subject (Ferrocast); every other column shows the peer's
//! value and the ratio subject / peer (below 1 means Ferrocast's number is smaller).

use std::fmt::Write as _;

/// One cell: the median of a library's runs, or why there is none.
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Value(f64),
    Error(String),
}

/// One metric across all libraries; `cells` lines up with [`Report::libraries`].
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    pub(crate) cells: Vec<Cell>,
}

/// A whole suite's results.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) suite: &'static str,
    pub(crate) quick: bool,
    pub(crate) runs: usize,
    pub(crate) libraries: Vec<&'static str>,
    pub(crate) rows: Vec<Row>,
}

const ERROR_WIDTH: usize = 18;

impl Report {
    /// The human table, ending with the full text of every error shown in a cell.
    pub(crate) fn table(&self) -> String {
        let mut header = vec!["metric".to_owned(), "unit".to_owned()];
        header.extend(self.libraries.iter().enumerate().map(|(i, lib)| {
            if i == 0 {
                (*lib).to_owned()
            } else {
                format!("{lib} (ratio)")
            }
        }));
        let mut lines = vec![header];
        let mut errors = Vec::new();
        for row in &self.rows {
            let subject = match row.cells.first() {
                Some(Cell::Value(v)) => Some(*v),
                _ => None,
            };
            let mut line = vec![row.name.clone(), row.unit.to_owned()];
            for (i, cell) in row.cells.iter().enumerate() {
                line.push(match cell {
                    Cell::Value(v) if i == 0 => number(*v),
                    Cell::Value(v) => match subject {
                        Some(s) if *v != 0.0 && v.is_finite() => {
                            format!("{} {:.2}x", number(*v), s / v)
                        }
                        _ => number(*v),
                    },
                    Cell::Error(e) => {
                        let entry = format!("{} / {}: {e}", self.libraries[i], row.name);
                        if !errors.contains(&entry) {
                            errors.push(entry);
                        }
                        let short: String = e.chars().take(ERROR_WIDTH).collect();
                        format!("ERR {short}")
                    }
                });
            }
            lines.push(line);
        }
        let columns = lines[0].len();
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                lines
                    .iter()
                    .map(|l| l[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = format!(
            "{} ({}, median of {} run{}); ratio = {} / peer\n",
            self.suite,
            if self.quick { "quick" } else { "full" },
            self.runs,
            if self.runs == 1 { "" } else { "s" },
            self.libraries.first().copied().unwrap_or("subject"),
        );
        for line in &lines {
            for (c, text) in line.iter().enumerate() {
                if c < 2 {
                    let _ = write!(out, "{text:<w$}  ", w = widths[c]);
                } else {
                    let _ = write!(out, "{text:>w$}  ", w = widths[c]);
                }
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
        if !errors.is_empty() {
            out.push_str("errors:\n");
            for e in errors {
                let _ = writeln!(out, "  {e}");
            }
        }
        out
    }

    /// One line of JSON: `{"bench":..,"quick":..,"runs":..,"results":[{"name":..,"unit":..,
    /// "<library>":number|null,..,"errors":{"<library>":".."}},..]}` (`errors` only when
    /// some cell of the row failed).
    pub(crate) fn json(&self) -> String {
        let mut out = format!(
            "{{\"bench\":{},\"quick\":{},\"runs\":{},\"results\":[",
            string(self.suite),
            self.quick,
            self.runs
        );
        for (r, row) in self.rows.iter().enumerate() {
            if r > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"name\":{},\"unit\":{}",
                string(&row.name),
                string(row.unit)
            );
            let mut errors = Vec::new();
            for (lib, cell) in self.libraries.iter().zip(&row.cells) {
                let value = match cell {
                    Cell::Value(v) if v.is_finite() => json_number(*v),
                    Cell::Value(_) => "null".to_owned(),
                    Cell::Error(e) => {
                        errors.push(format!("{}:{}", string(lib), string(e)));
                        "null".to_owned()
                    }
                };
                let _ = write!(out, ",{}:{value}", string(lib));
            }
            if !errors.is_empty() {
                let _ = write!(out, ",\"errors\":{{{}}}", errors.join(","));
            }
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

/// A value for the table: 4 significant digits, thousands grouped.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    let decimals = match v.abs() {
        a if a >= 1000.0 => 0,
        a if a >= 100.0 => 1,
        a if a >= 10.0 => 2,
        _ => 3,
    };
    let text = format!("{v:.decimals$}");
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A value for JSON: rounded to 3 decimals, no exponent, no trailing zeros.
fn json_number(v: f64) -> String {
    let text = format!("{:.3}", (v * 1000.0).round() / 1000.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A JSON string literal.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            suite: "actors",
            quick: true,
            runs: 1,
            libraries: vec!["ferrocast", "kameo", "tokio"],
            rows: vec![Row {
                name: "tell_1_actor".to_owned(),
                unit: "ns/msg",
                cells: vec![
                    Cell::Value(100.0),
                    Cell::Value(400.0),
                    Cell::Error("boom \"x\"".to_owned()),
                ],
            }],
        }
    }

    #[test]
    fn json_is_one_flat_line() {
        assert_eq!(
            report().json(),
            r#"{"bench":"actors","quick":true,"runs":1,"results":[{"name":"tell_1_actor","unit":"ns/msg","ferrocast":100,"kameo":400,"tokio":null,"errors":{"tokio":"boom \"x\""}}]}"#
        );
    }

    #[test]
    fn table_shows_ratio_and_errors() {
        let table = report().table();
        assert!(table.contains("400.0 0.25x"), "{table}");
        assert!(table.contains("ERR boom"), "{table}");
        assert!(table.contains("tokio / tell_1_actor: boom"), "{table}");
    }

    #[test]
    fn not_applicable_cell_has_no_ratio() {
        let mut report = report();
        report.rows[0].cells[1] = Cell::Value(f64::NAN);
        let table = report.table();
        assert!(!table.contains("NaN"), "{table}");
        assert!(report.json().contains(r#""kameo":null,"#));
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(number(1_234_567.8), "1,234,568");
        assert_eq!(number(-1234.0), "-1,234");
        assert_eq!(number(0.9512), "0.951");
        assert_eq!(json_number(0.1), "0.1");
        assert_eq!(json_number(12.0), "12");
    }
}
