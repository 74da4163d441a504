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
        for n in &r.notes {
            out.push_str(&format!("   note: {n}\n"));
        }
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
    for n in &r.notes {
        out.push_str(&format!("  note     {n}\n"));
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
    diff_structure(d, &mut out);
    out
}

/// Tables (row counts, schema changes) and arrays (which chunks changed) of a diff.
fn diff_structure(d: &Diff, out: &mut String) {
    use crate::diff::NodeChange;
    let n = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
    for t in d
        .tables
        .iter()
        .filter(|t| t.change != NodeChange::Unchanged)
    {
        out.push_str(&format!(
            "table {:<24} {}: rows {} -> {}, {} file(s) changed\n",
            t.name,
            format!("{:?}", t.change).to_lowercase(),
            n(t.old_rows),
            n(t.new_rows),
            t.files_changed
        ));
        for c in &t.columns_added {
            out.push_str(&format!("  + column {} {}\n", c.name, c.data_type));
        }
        for c in &t.columns_removed {
            out.push_str(&format!("  - column {} {}\n", c.name, c.data_type));
        }
        for c in &t.columns_retyped {
            out.push_str(&format!("  ~ column {}: {} -> {}\n", c.name, c.old, c.new));
        }
    }
    for a in d
        .arrays
        .iter()
        .filter(|a| a.change != NodeChange::Unchanged)
    {
        let shape = |s: &Option<Vec<u64>>| {
            s.as_ref()
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|| "-".into())
        };
        out.push_str(&format!(
            "array {:<40} {}: shape {} -> {}; chunks {} added, {} removed, {} changed, {} unchanged{}\n",
            a.path,
            format!("{:?}", a.change).to_lowercase(),
            shape(&a.old_shape),
            shape(&a.new_shape),
            a.chunks_added.len(),
            a.chunks_removed.len(),
            a.chunks_changed.len(),
            a.chunks_unchanged,
            if a.metadata_changed { "; zarr.json changed" } else { "" }
        ));
        let mut keys: Vec<&String> = a.chunks_changed.iter().chain(&a.chunks_added).collect();
        keys.sort();
        if !keys.is_empty() {
            let shown: Vec<&str> = keys.iter().take(8).map(|k| k.as_str()).collect();
            out.push_str(&format!(
                "  chunks {}{}\n",
                shown.join(" "),
                if keys.len() > 8 { " ..." } else { "" }
            ));
        }
    }
}

/// `publish`.
pub fn publish(r: &crate::publish::PublishReport) -> String {
    if r.already_published {
        return format!(
            "{} is already published with the same digest; nothing uploaded\n   digest {}\n",
            r.address, r.digest
        );
    }
    format!(
        "published {}\n   digest   {}\n   objects  {} ({} uploaded, {} already there), {} in {:.1}s\n",
        r.address,
        r.digest,
        r.objects,
        r.uploaded,
        r.skipped,
        bytes(r.bytes_uploaded),
        r.seconds
    )
}

/// `pull`.
pub fn pull(r: &crate::pull::PullReport) -> String {
    let mut out = format!(
        "{} {}: {} of {} objects, {} of {}\n",
        if r.dry_run { "would pull" } else { "pulled" },
        r.address,
        r.selected_objects,
        r.total_objects,
        bytes(r.selected_bytes),
        bytes(r.total_bytes)
    );
    if !r.dry_run {
        out.push_str(&format!(
            "   downloaded {} objects ({}), {} already present and verified\n   into {}\n",
            r.downloaded_objects,
            bytes(r.downloaded_bytes),
            r.already_present,
            r.destination.display()
        ));
    }
    out
}
