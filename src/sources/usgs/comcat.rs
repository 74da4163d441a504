//! Reading USGS ComCat CSV, driven by the header (the current 22-column layout and the
//! older 15-column one). Empty optional fields become nulls; malformed rows are reported
//! with file and line.

use std::collections::HashMap;
use std::io::Read;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDateTime};

/// The columns every ComCat CSV has (the 15-column legacy layout included).
pub const REQUIRED_COLUMNS: [&str; 6] = ["time", "latitude", "longitude", "depth", "mag", "id"];

/// One ComCat event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Origin time, milliseconds since the Unix epoch (UTC).
    pub time_ms: i64,
    pub latitude: f64,
    pub longitude: f64,
    pub depth: Option<f64>,
    pub mag: Option<f64>,
    pub mag_type: Option<String>,
    pub nst: Option<i32>,
    pub gap: Option<f64>,
    pub dmin: Option<f64>,
    pub rms: Option<f64>,
    pub net: Option<String>,
    pub id: String,
    pub updated_ms: Option<i64>,
    pub place: Option<String>,
    pub event_type: Option<String>,
    pub horizontal_error: Option<f64>,
    pub depth_error: Option<f64>,
    pub mag_error: Option<f64>,
    pub mag_nst: Option<i32>,
    pub status: Option<String>,
    pub location_source: Option<String>,
    pub mag_source: Option<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Columns {
    time: usize,
    latitude: usize,
    longitude: usize,
    depth: usize,
    mag: usize,
    id: usize,
    mag_type: Option<usize>,
    nst: Option<usize>,
    gap: Option<usize>,
    dmin: Option<usize>,
    rms: Option<usize>,
    net: Option<usize>,
    updated: Option<usize>,
    place: Option<usize>,
    event_type: Option<usize>,
    horizontal_error: Option<usize>,
    depth_error: Option<usize>,
    mag_error: Option<usize>,
    mag_nst: Option<usize>,
    status: Option<usize>,
    location_source: Option<usize>,
    mag_source: Option<usize>,
}

/// A streaming ComCat CSV reader.
pub struct ComcatReader<R: Read> {
    file: String,
    reader: csv::Reader<R>,
    cols: Columns,
    record: csv::StringRecord,
    /// Number of header fields.
    pub width: usize,
}

/// A row that could not be read, with its location.
#[derive(Debug)]
pub struct BadRow {
    pub file: String,
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for BadRow {}

impl<R: Read> ComcatReader<R> {
    /// Reads and checks the header. `file` names the input in errors.
    pub fn new(file: &str, input: R) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(input);
        let headers = reader
            .headers()
            .map_err(|e| anyhow!("{file}:1: cannot read the CSV header: {e}"))?
            .clone();
        if headers.is_empty() || headers.iter().all(|h| h.trim().is_empty()) {
            bail!(
                "{file}: the file is empty (expected a ComCat CSV header starting with 'time,latitude,longitude,depth,mag')"
            );
        }
        let index: HashMap<String, usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim().to_string(), i))
            .collect();
        let missing: Vec<&str> = REQUIRED_COLUMNS
            .iter()
            .copied()
            .filter(|c| !index.contains_key(*c))
            .collect();
        if !missing.is_empty() {
            let found: Vec<&str> = headers.iter().take(8).collect();
            bail!(
                "{file}:1: not a ComCat CSV header: missing column(s) {}; found {}{}",
                missing
                    .iter()
                    .map(|c| format!("'{c}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
                found.join(","),
                if headers.len() > 8 { ",…" } else { "" }
            );
        }
        let opt = |name: &str| index.get(name).copied();
        let cols = Columns {
            time: index["time"],
            latitude: index["latitude"],
            longitude: index["longitude"],
            depth: index["depth"],
            mag: index["mag"],
            id: index["id"],
            mag_type: opt("magType"),
            nst: opt("nst"),
            gap: opt("gap"),
            dmin: opt("dmin"),
            rms: opt("rms"),
            net: opt("net"),
            updated: opt("updated"),
            place: opt("place"),
            event_type: opt("type"),
            horizontal_error: opt("horizontalError"),
            depth_error: opt("depthError"),
            mag_error: opt("magError"),
            mag_nst: opt("magNst"),
            status: opt("status"),
            location_source: opt("locationSource"),
            mag_source: opt("magSource"),
        };
        Ok(ComcatReader {
            file: file.to_string(),
            width: headers.len(),
            reader,
            cols,
            record: csv::StringRecord::new(),
        })
    }

    /// The underlying reader (for example to finish its hash).
    pub fn into_inner(self) -> R {
        self.reader.into_inner()
    }

    /// Bytes consumed so far (for progress).
    pub fn byte_position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// The next event: `Ok(None)` at the end, `Err(BadRow)` for a malformed row (reading
    /// can continue after it), other errors for I/O failures.
    pub fn next_event(&mut self) -> Result<Option<std::result::Result<Event, BadRow>>> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line = self.record.position().map(|p| p.line()).unwrap_or(0);
                Ok(Some(parse_event(&self.record, &self.cols).map_err(
                    |message| BadRow {
                        file: self.file.clone(),
                        line,
                        message,
                    },
                )))
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => Ok(Some(Err(BadRow {
                        file: self.file.clone(),
                        line,
                        message: format!(
                            "expected {expected_len} fields as in the header, found {len} (truncated or malformed row)"
                        ),
                    }))),
                    csv::ErrorKind::Utf8 { .. } => Ok(Some(Err(BadRow {
                        file: self.file.clone(),
                        line,
                        message: "the row is not valid UTF-8".into(),
                    }))),
                    _ => Err(anyhow!("{}:{line}: {e}", self.file)),
                }
            }
        }
    }
}

fn field(rec: &csv::StringRecord, idx: usize) -> &str {
    rec.get(idx).unwrap_or("").trim()
}

fn opt_str(rec: &csv::StringRecord, idx: Option<usize>) -> Option<String> {
    let v = field(rec, idx?);
    (!v.is_empty()).then(|| v.to_string())
}

fn opt_f64(rec: &csv::StringRecord, idx: Option<usize>, name: &str) -> Result<Option<f64>, String> {
    let Some(idx) = idx else { return Ok(None) };
    let v = field(rec, idx);
    if v.is_empty() {
        return Ok(None);
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(format!("column '{name}': {v:?} is not a number")),
    }
}

fn opt_i32(rec: &csv::StringRecord, idx: Option<usize>, name: &str) -> Result<Option<i32>, String> {
    let Some(idx) = idx else { return Ok(None) };
    let v = field(rec, idx);
    if v.is_empty() {
        return Ok(None);
    }
    // Some exports write integers as "12.0".
    if let Ok(i) = v.parse::<i32>() {
        return Ok(Some(i));
    }
    match v.parse::<f64>() {
        Ok(x) if x.fract() == 0.0 && x.abs() < i32::MAX as f64 => Ok(Some(x as i32)),
        _ => Err(format!("column '{name}': {v:?} is not an integer")),
    }
}

fn req_f64(rec: &csv::StringRecord, idx: usize, name: &str) -> Result<f64, String> {
    opt_f64(rec, Some(idx), name)?.ok_or_else(|| format!("column '{name}' is empty"))
}

/// Parses a ComCat time (`2014-08-25T04:08:26.560Z`, also without `Z`, with a space, or
/// with an explicit offset) to milliseconds since the epoch (UTC).
pub fn parse_time_ms(v: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp_millis());
    }
    let v = v.trim_end_matches('Z');
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

fn parse_event(rec: &csv::StringRecord, c: &Columns) -> Result<Event, String> {
    let time = field(rec, c.time);
    let time_ms = parse_time_ms(time)
        .ok_or_else(|| format!("column 'time': {time:?} is not an ISO-8601 time"))?;
    let latitude = req_f64(rec, c.latitude, "latitude")?;
    let longitude = req_f64(rec, c.longitude, "longitude")?;
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(format!("column 'latitude': {latitude} is outside -90..90"));
    }
    if !(-180.0..=360.0).contains(&longitude) {
        return Err(format!(
            "column 'longitude': {longitude} is outside -180..360"
        ));
    }
    let id = field(rec, c.id);
    if id.is_empty() {
        return Err("column 'id' is empty".into());
    }
    let updated_ms = match c.updated.map(|i| field(rec, i)) {
        Some(v) if !v.is_empty() => Some(
            parse_time_ms(v)
                .ok_or_else(|| format!("column 'updated': {v:?} is not an ISO-8601 time"))?,
        ),
        _ => None,
    };
    Ok(Event {
        time_ms,
        latitude,
        longitude,
        depth: opt_f64(rec, Some(c.depth), "depth")?,
        mag: opt_f64(rec, Some(c.mag), "mag")?,
        mag_type: opt_str(rec, c.mag_type),
        nst: opt_i32(rec, c.nst, "nst")?,
        gap: opt_f64(rec, c.gap, "gap")?,
        dmin: opt_f64(rec, c.dmin, "dmin")?,
        rms: opt_f64(rec, c.rms, "rms")?,
        net: opt_str(rec, c.net),
        id: id.to_string(),
        updated_ms,
        place: opt_str(rec, c.place),
        event_type: opt_str(rec, c.event_type),
        horizontal_error: opt_f64(rec, c.horizontal_error, "horizontalError")?,
        depth_error: opt_f64(rec, c.depth_error, "depthError")?,
        mag_error: opt_f64(rec, c.mag_error, "magError")?,
        mag_nst: opt_i32(rec, c.mag_nst, "magNst")?,
        status: opt_str(rec, c.status),
        location_source: opt_str(rec, c.location_source),
        mag_source: opt_str(rec, c.mag_source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER22: &str = "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type,horizontalError,depthError,magError,magNst,status,locationSource,magSource\n";

    fn read_all(text: &str) -> Result<Vec<std::result::Result<Event, BadRow>>> {
        let mut r = ComcatReader::new("t.csv", text.as_bytes())?;
        let mut out = Vec::new();
        while let Some(e) = r.next_event()? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn reads_current_layout_with_empty_fields() {
        let text = format!(
            "{HEADER22}2023-04-17T09:16:42.127Z,35.1,-117.5,9.2,2.1,ml,,,,0.41,ci,ci1,2023-04-17T09:18:44.908Z,\"5 km N of X, CA\",earthquake,,0.4,,,automatic,ci,ci\n"
        );
        let rows = read_all(&text).unwrap();
        let e = rows[0].as_ref().unwrap();
        assert_eq!(e.time_ms, 1681723002127);
        assert_eq!(e.nst, None);
        assert_eq!(e.rms, Some(0.41));
        assert_eq!(e.place.as_deref(), Some("5 km N of X, CA"));
        assert_eq!(e.event_type.as_deref(), Some("earthquake"));
    }

    #[test]
    fn reads_legacy_layout_by_header() {
        let text = "time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,type\n\
                    1999-10-16T09:46:44.130Z,34.59,-116.27,0.02,7.1,mw,,,,0.19,ci,ci9108652,2016-01-28T19:22:41.418Z,\"Hector Mine\",earthquake\n";
        let rows = read_all(text).unwrap();
        let e = rows[0].as_ref().unwrap();
        assert_eq!(e.mag, Some(7.1));
        assert_eq!(e.mag_source, None);
    }

    #[test]
    fn bad_rows_name_file_line_and_column() {
        let text = format!(
            "{HEADER22}2023-04-17T09:16:42.127Z,35.1,-117.5,9.2,abc,ml,,,,0.41,ci,ci1,,,earthquake,,,,,,,\n"
        );
        let rows = read_all(&text).unwrap();
        let err = rows[0].as_ref().unwrap_err().to_string();
        assert!(err.starts_with("t.csv:2: column 'mag'"), "{err}");

        let truncated = format!("{HEADER22}2023-04-17T09:16:42.127Z,35.1,-117.5\n");
        let rows = read_all(&truncated).unwrap();
        let err = rows[0].as_ref().unwrap_err().to_string();
        assert!(
            err.contains("t.csv:2:") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn wrong_header_and_empty_file_are_errors() {
        let err = read_all("a,b,c\n1,2,3\n").err().unwrap().to_string();
        assert!(err.contains("missing column(s) 'time'"), "{err}");
        let err = read_all("").err().unwrap().to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
