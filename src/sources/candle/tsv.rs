//! A streaming TAB-separated (or comma-separated) reader. Lines are read one at a time
//! into a reused buffer, so memory does not depend on the file size. Every error names the
//! file and the line (1-based, counting the header) and, where it applies, the column.
//!
//! Comma-separated files ([`TsvReader::csv`]) accept RFC 4180 quoting within a line
//! (`"a,b"`, `""` for a quote), as pandas does; a quoted field cannot span lines.

use std::io::BufRead;

use anyhow::{Result, bail};

/// Field values that mean "missing" (the reference reads with `na_values=['na', '-', '']`;
/// pandas' default markers are accepted too).
pub const MISSING: [&str; 8] = ["", "na", "-", "NA", "NaN", "nan", "N/A", "null"];

/// True when `v` is a missing-value marker.
pub fn is_missing(v: &str) -> bool {
    // Every marker is at most 4 bytes: longer values (most numbers) skip the comparisons.
    v.len() <= 4 && MISSING.contains(&v)
}

/// Parses a float field (`None` when missing); the error names file, line and column.
pub fn parse_f32(v: &str, file: &str, line: u64, column: &str) -> Result<Option<f32>> {
    if let Some(x) = fast_f32(v.as_bytes()) {
        return Ok(Some(x));
    }
    if is_missing(v) {
        return Ok(None);
    }
    // Surrounding blanks are rare: trimmed only when the plain parse fails.
    match v.parse::<f32>().or_else(|_| v.trim().parse::<f32>()) {
        Ok(x) => Ok(Some(x)),
        Err(_) => bail!("{file}:{line}: column {column}: {v:?} is not a number"),
    }
}

/// Powers of ten exactly representable in float32.
const POW10_F32: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// Clinger's fast path for the short decimals of the CANDLE tables (`0.6213`, `-1.2e-05`):
/// when the digits form an integer `m <= 2^24` and the decimal exponent `k` satisfies
/// `|k| <= 10`, both `m` and `10^|k|` are exact in float32, so one float32 multiplication or
/// division gives the correctly rounded value, the same bits as `str::parse::<f32>`.
/// Anything else (more digits, larger exponents, `inf`, `NaN`, blanks, missing markers)
/// returns `None` and goes through the full parser.
fn fast_f32(s: &[u8]) -> Option<f32> {
    let (neg, mut i) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let mut m: u32 = 0;
    let mut digits = false;
    let mut scale: i32 = 0;
    while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
        m = m * 10 + u32::from(d - b'0');
        if m > 1 << 24 {
            return None;
        }
        digits = true;
        i += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
            m = m * 10 + u32::from(d - b'0');
            if m > 1 << 24 {
                return None;
            }
            digits = true;
            scale -= 1;
            i += 1;
        }
    }
    if !digits {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = match s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut e: i32 = 0;
        let mut edigits = false;
        while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
            e = e * 10 + i32::from(d - b'0');
            if e > 100 {
                return None;
            }
            edigits = true;
            i += 1;
        }
        if !edigits {
            return None;
        }
        scale += if eneg { -e } else { e };
    }
    if i != s.len() {
        return None;
    }
    let k = usize::try_from(scale.unsigned_abs()).ok()?;
    let p = *POW10_F32.get(k)?;
    let v = m as f32;
    let r = if scale >= 0 { v * p } else { v / p };
    Some(if neg { -r } else { r })
}

/// Parses a float64 field (`None` when missing).
pub fn parse_f64(v: &str, file: &str, line: u64, column: &str) -> Result<Option<f64>> {
    if is_missing(v) {
        return Ok(None);
    }
    // Surrounding blanks are rare: trimmed only when the plain parse fails.
    match v.parse::<f64>().or_else(|_| v.trim().parse::<f64>()) {
        Ok(x) => Ok(Some(x)),
        Err(_) => bail!("{file}:{line}: column {column}: {v:?} is not a number"),
    }
}

/// A TAB-separated file read line by line.
pub struct TsvReader<R> {
    file: String,
    inner: R,
    buf: Vec<u8>,
    line_no: u64,
    bounds: Vec<(usize, usize)>,
    header: Vec<String>,
    bytes: u64,
    delim: u8,
    /// Unquoted copy of the current line when it had quoted fields (CSV only).
    unq: Vec<u8>,
    quoted: bool,
    /// Float32 values of the current row already parsed by [`TsvReader::f32_at`].
    f32s: std::cell::RefCell<Vec<Option<Option<f32>>>>,
}

impl<R: BufRead> TsvReader<R> {
    /// Opens a file with a header line. `skip_lines` lines before the header are skipped
    /// (and returned), as the reference's `skiprows`. With `header == false` the first
    /// (non-skipped) line is data and the columns are named `0, 1, ...`.
    pub fn new(
        file: &str,
        inner: R,
        skip_lines: usize,
        header: bool,
    ) -> Result<(Self, Vec<String>)> {
        Self::with_delimiter(file, inner, skip_lines, header, b'\t')
    }

    /// Reads a block of data lines of a TAB-separated file whose header (`header`) and first
    /// `lines_before` lines were read elsewhere: line numbers in messages continue from there.
    pub fn continuation(file: &str, inner: R, header: Vec<String>, lines_before: u64) -> Self {
        TsvReader {
            file: file.to_string(),
            inner,
            buf: Vec::with_capacity(1 << 12),
            line_no: lines_before,
            bounds: Vec::new(),
            header,
            bytes: 0,
            delim: b'\t',
            unq: Vec::new(),
            quoted: false,
            f32s: Default::default(),
        }
    }

    /// A comma-separated file with a header line (quoted fields allowed).
    pub fn csv(file: &str, inner: R) -> Result<Self> {
        Self::with_delimiter(file, inner, 0, true, b',').map(|(r, _)| r)
    }

    fn with_delimiter(
        file: &str,
        inner: R,
        skip_lines: usize,
        header: bool,
        delim: u8,
    ) -> Result<(Self, Vec<String>)> {
        let mut r = TsvReader {
            file: file.to_string(),
            inner,
            buf: Vec::with_capacity(1 << 16),
            line_no: 0,
            bounds: Vec::new(),
            header: Vec::new(),
            bytes: 0,
            delim,
            unq: Vec::new(),
            quoted: false,
            f32s: Default::default(),
        };
        let mut skipped = Vec::new();
        for _ in 0..skip_lines {
            if !r.read_line()? {
                bail!("{file}: the file ends before line {}", r.line_no + 1);
            }
            skipped.push(r.line_text()?.to_string());
        }
        if header {
            if !r.read_line()? {
                bail!("{file}: the file is empty (no header line)");
            }
            r.split()?;
            let mut seen = std::collections::HashMap::new();
            let mut names = Vec::with_capacity(r.bounds.len());
            for i in 0..r.bounds.len() {
                let name = r.field(i).trim().to_string();
                if name.is_empty() {
                    bail!("{file}:{}: header column {} has no name", r.line_no, i + 1);
                }
                if let Some(prev) = seen.insert(name.clone(), i) {
                    bail!(
                        "{file}:{}: duplicated header {name:?} (columns {} and {})",
                        r.line_no,
                        prev + 1,
                        i + 1
                    );
                }
                names.push(name);
            }
            r.header = names;
        }
        Ok((r, skipped))
    }

    /// The file name used in messages.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Column names (empty for header-less files until the first row is read).
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// 1-based number of the line last read.
    pub fn line(&self) -> u64 {
        self.line_no
    }

    /// Bytes consumed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn read_line(&mut self) -> Result<bool> {
        self.buf.clear();
        let n = self
            .inner
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| anyhow::anyhow!("{}:{}: read error: {e}", self.file, self.line_no + 1))?;
        if n == 0 {
            return Ok(false);
        }
        self.bytes += n as u64;
        self.line_no += 1;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(true)
    }

    fn line_text(&self) -> Result<&str> {
        std::str::from_utf8(&self.buf)
            .map_err(|e| anyhow::anyhow!("{}:{}: not valid UTF-8 ({e})", self.file, self.line_no))
    }

    fn split(&mut self) -> Result<()> {
        self.line_text()?;
        self.bounds.clear();
        self.quoted = self.delim == b',' && self.buf.contains(&b'"');
        if self.quoted {
            return self.split_quoted();
        }
        let mut start = 0;
        for (i, b) in self.buf.iter().enumerate() {
            if *b == self.delim {
                self.bounds.push((start, i));
                start = i + 1;
            }
        }
        self.bounds.push((start, self.buf.len()));
        Ok(())
    }

    /// Splits a CSV line with quoted fields into `unq` (quotes removed, `""` -> `"`).
    fn split_quoted(&mut self) -> Result<()> {
        self.unq.clear();
        let line = &self.buf;
        let mut i = 0;
        loop {
            let start = self.unq.len();
            if line.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    match line.get(i) {
                        None => bail!(
                            "{}:{}: unterminated quoted field {}",
                            self.file,
                            self.line_no,
                            self.bounds.len() + 1
                        ),
                        Some(b'"') if line.get(i + 1) == Some(&b'"') => {
                            self.unq.push(b'"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b) => {
                            self.unq.push(*b);
                            i += 1;
                        }
                    }
                }
                // Text after the closing quote up to the delimiter is kept (as pandas).
                while let Some(b) = line.get(i) {
                    if *b == self.delim {
                        break;
                    }
                    self.unq.push(*b);
                    i += 1;
                }
            } else {
                while let Some(b) = line.get(i) {
                    if *b == self.delim {
                        break;
                    }
                    self.unq.push(*b);
                    i += 1;
                }
            }
            self.bounds.push((start, self.unq.len()));
            if i >= line.len() {
                break;
            }
            i += 1; // the delimiter
            if i == line.len() {
                self.bounds.push((self.unq.len(), self.unq.len()));
                break;
            }
        }
        Ok(())
    }

    /// Reads the next non-blank data line. Returns `false` at the end of the file.
    /// A line whose number of fields differs from the header's is an error.
    pub fn next_row(&mut self) -> Result<bool> {
        loop {
            if !self.read_line()? {
                return Ok(false);
            }
            if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            self.split()?;
            if self.header.is_empty() {
                self.header = (0..self.bounds.len()).map(|i| i.to_string()).collect();
            }
            if self.bounds.len() != self.header.len() {
                bail!(
                    "{}:{}: ragged row: {} fields, the header has {}",
                    self.file,
                    self.line_no,
                    self.bounds.len(),
                    self.header.len()
                );
            }
            let f32s = self.f32s.get_mut();
            f32s.clear();
            f32s.resize(self.bounds.len(), None);
            return Ok(true);
        }
    }

    /// Number of fields of the current row.
    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    /// True when the current row has no fields (never after a successful `next_row`).
    pub fn is_empty(&self) -> bool {
        self.bounds.is_empty()
    }

    /// Field `i` of the current row (already checked to be UTF-8).
    pub fn field(&self, i: usize) -> &str {
        let (a, b) = self.bounds[i];
        let src = if self.quoted { &self.unq } else { &self.buf };
        // SAFETY: `split` validated the whole line as UTF-8 and cut it only at the ASCII
        // delimiter (or, for quoted CSV, removed ASCII quotes), so every field is UTF-8 that
        // starts and ends on character boundaries.
        unsafe { std::str::from_utf8_unchecked(&src[a..b]) }
    }

    /// Parses field `i` as float32 (`None` when missing); a field is parsed once per row
    /// however often it is asked for.
    pub fn f32_at(&self, i: usize) -> Result<Option<f32>> {
        if let Some(Some(v)) = self.f32s.borrow().get(i) {
            return Ok(*v);
        }
        let v = parse_f32(self.field(i), &self.file, self.line_no, &self.header[i])?;
        if let Some(slot) = self.f32s.borrow_mut().get_mut(i) {
            *slot = Some(v);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(text: &str) -> Result<TsvReader<&[u8]>> {
        TsvReader::new("t.tsv", text.as_bytes(), 0, true).map(|(r, _)| r)
    }

    #[test]
    fn the_fast_float_path_gives_the_standard_parser_bits() {
        // A deterministic sweep of decimals like the tables' (and beyond the fast path's
        // limits, where it must decline): every result equals str::parse::<f32>.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut taken = 0;
        for _ in 0..400_000 {
            let digits = 1 + next(10) as usize;
            let mut t: String = (0..digits)
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            match next(4) {
                0 => {}
                1 => t.insert(next(digits as u64 + 1) as usize, '.'),
                2 => t = format!("{t}e{}", next(31) as i64 - 15),
                _ => {
                    t.insert(next(digits as u64) as usize, '.');
                    t = format!("{t}E{:+}", next(25) as i64 - 12);
                }
            }
            if next(2) == 0 {
                t.insert(0, '-');
            }
            let want: f32 = t.parse().expect("valid decimal");
            if let Some(got) = fast_f32(t.as_bytes()) {
                taken += 1;
                assert_eq!(got.to_bits(), want.to_bits(), "{t}");
            }
        }
        assert!(taken > 100_000, "the fast path took only {taken} values");
        for s in [
            "", "-", "+", ".", "e5", "1e", "1.2.3", "NaN", "inf", "1 ", " 1", "0x10", "1e+",
        ] {
            assert!(fast_f32(s.as_bytes()).is_none(), "{s:?}");
        }
        assert_eq!(
            fast_f32(b"-0.0").map(f32::to_bits),
            Some((-0.0f32).to_bits())
        );
    }

    #[test]
    fn missing_markers_are_recognised() {
        for m in MISSING {
            assert!(m.len() <= 4 && is_missing(m), "{m:?}");
        }
        assert!(!is_missing("0.5") && !is_missing("nanx") && !is_missing("1.0e-3"));
    }

    #[test]
    fn reads_fields_and_skips_blank_lines() {
        let mut r = open("a\tb\r\n1\tx y\n\n2\t\n").unwrap();
        assert_eq!(r.header(), ["a", "b"]);
        assert!(r.next_row().unwrap());
        assert_eq!((r.field(0), r.field(1), r.line()), ("1", "x y", 2));
        assert!(r.next_row().unwrap());
        assert_eq!((r.field(0), r.field(1), r.line()), ("2", "", 4));
        assert!(!r.next_row().unwrap());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let mut r = open("a\tb\n1\t2\n3\n").unwrap();
        assert!(r.next_row().unwrap());
        let e = r.next_row().unwrap_err().to_string();
        assert!(e.contains("t.tsv:3") && e.contains("ragged"), "{e}");
        let e = open("a\tb\ta\n").err().unwrap().to_string();
        assert!(
            e.contains("t.tsv:1") && e.contains("duplicated header \"a\""),
            "{e}"
        );
        let mut r = open("a\tb\n1\tx\n").unwrap();
        r.next_row().unwrap();
        assert_eq!(r.f32_at(0).unwrap(), Some(1.0));
        let e = r.f32_at(1).unwrap_err().to_string();
        assert!(e.contains("t.tsv:2: column b"), "{e}");
        assert!(open("").is_err());
    }

    #[test]
    fn csv_with_quotes() {
        let t = "a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,,\n\"3\",z,\n4,\"open\n";
        let mut r = TsvReader::csv("t.csv", t.as_bytes()).unwrap();
        assert_eq!(r.header(), ["a", "b", "c"]);
        assert!(r.next_row().unwrap());
        assert_eq!(
            (r.field(0), r.field(1), r.field(2)),
            ("1", "x, y", "say \"hi\"")
        );
        assert!(r.next_row().unwrap());
        assert_eq!((r.field(0), r.field(1), r.field(2)), ("2", "", ""));
        assert!(r.next_row().unwrap());
        assert_eq!((r.field(0), r.field(1), r.field(2)), ("3", "z", ""));
        let e = r.next_row().unwrap_err().to_string();
        assert!(e.contains("t.csv:5: unterminated quoted field 2"), "{e}");
        let e = TsvReader::csv("t.csv", "a,b,a\n".as_bytes())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("t.csv:1: duplicated header \"a\""), "{e}");
    }

    #[test]
    fn missing_markers() {
        for m in ["", "na", "-", "NA"] {
            assert_eq!(parse_f32(m, "f", 1, "c").unwrap(), None);
        }
        assert_eq!(parse_f32("1e-3", "f", 1, "c").unwrap(), Some(1e-3));
    }
}
