//! Human-readable output of the commands (the `--json` forms serialize the same structs).

use crate::diff::{Change, Diff};
use crate::ingest::IngestResult;
use crate::inspect::Info;
use crate::record::VersionRecord;
use crate::repository::CommitOutcome;
use crate::verify::VerifyReport;

/// `1.5 MiB`-style sizes.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

/// After an ingest.
pub fn ingest(r: &IngestResult) -> String {
    let what = match r.outcome {
        CommitOutcome::Created => "created",
        CommitOutcome::AlreadyExists => "already exists with the same digest; nothing changed:",
    };
    format!(
        "{what} {}\n  digest  {}\n  payload {} files, {}\n  bag     {}\n",
        r.address,
        r.record.digest,
        r.record.payload.files,
        bytes(r.record.payload.bytes),
        r.bag_dir.display()
    )
}

/// `log`.
pub fn log(dataset: &str, versions: &[VersionRecord]) -> String {
    let mut out = format!("{dataset}: {} version(s), newest first\n", versions.len());
    for r in versions.iter().rev() {
        out.push_str(&format!(
            "{:<10} sha256:{}  {}  {:>10}  parent {:<8} {}\n",
            r.version,
            short(&r.digest),
            r.created,
            bytes(r.payload.bytes),
            r.parent.as_deref().unwrap_or("-"),
            r.message
        ));
    }
    out
}

/// `info`.
pub fn info(i: &Info) -> String {
    let r = &i.record;
    let mut out = format!(
        "{}\n  digest    {}\n  created   {}\n  parent    {}\n  message   {}\n  source    {} (written by {} {})\n  payload   {} files, {}\n  bag       {}\n",
        i.address,
        r.digest,
        r.created,
        r.parent.as_deref().unwrap_or("-"),
        r.message,
        r.source,
        r.tool.name,
        r.tool.version,
        r.payload.files,
        bytes(r.payload.bytes),
        i.bag.display()
    );
    out.push_str("  inputs\n");
    for f in &r.inputs {
        out.push_str(&format!(
            "    {}  {}  sha256:{}\n",
            f.name,
            bytes(f.size),
            short(&f.sha256)
        ));
    }
    out.push_str("  contents\n");
    for p in &i.parts {
        out.push_str(&format!(
            "    {:<28} {:>6} files {:>10}\n",
            p.path,
            p.files,
            bytes(p.bytes)
        ));
    }
    out
}

/// `verify`.
pub fn verify(address: &str, r: &VerifyReport) -> String {
    let mut out = String::new();
    if r.ok() {
        out.push_str(&format!(
            "OK {address} ({} check): {} files, {} {} in {:.2}s",
            r.mode,
            r.files_checked,
            bytes(r.bytes_checked),
            if r.mode == "full" {
                "re-hashed"
            } else {
                "sized"
            },
            r.seconds
        ));
        if r.mode == "full" {
            out.push_str(&format!(" ({}/s)", bytes(r.rate() as u64)));
        }
        out.push_str(&format!("\n   digest {}\n", r.digest));
        return out;
    }
    out.push_str(&format!("FAILED {address} ({} check)\n", r.mode));
    for m in &r.missing {
        out.push_str(&format!("  missing  {m}\n"));
    }
    for m in &r.extra {
        out.push_str(&format!("  extra    {m}\n"));
    }
    for m in &r.corrupt {
        out.push_str(&format!(
            "  corrupt  {} (expected {}, found {})\n",
            m.path,
            short(&m.expected),
            short(&m.actual)
        ));
    }
    for m in &r.wrong_size {
        out.push_str(&format!(
            "  size     {} (expected {} bytes, found {})\n",
            m.path, m.expected, m.actual
        ));
    }
    for p in &r.problems {
        out.push_str(&format!("  problem  {p}\n"));
    }
    out
}

/// `diff`.
pub fn diff(d: &Diff) -> String {
    let mut out = format!(
        "{} (sha256:{}) -> {} (sha256:{})\n",
        d.from,
        short(&d.from_digest),
        d.to,
        short(&d.to_digest)
    );
    if d.entries.is_empty() {
        out.push_str(&format!("no changes ({} objects identical)\n", d.unchanged));
        return out;
    }
    let size = |s: Option<u64>| s.map(bytes).unwrap_or_else(|| "-".into());
    for e in &d.entries {
        let (mark, sizes) = match e.change {
            Change::Added => ("+", size(e.new_size)),
            Change::Removed => ("-", size(e.old_size)),
            Change::Changed => ("~", format!("{} -> {}", size(e.old_size), size(e.new_size))),
        };
        out.push_str(&format!("{mark} {:<56} {sizes}\n", e.path));
    }
    let count = |c: Change| d.entries.iter().filter(|e| e.change == c).count();
    out.push_str(&format!(
        "{} added, {} removed, {} changed, {} unchanged\n",
        count(Change::Added),
        count(Change::Removed),
        count(Change::Changed),
        d.unchanged
    ));
    out
}
