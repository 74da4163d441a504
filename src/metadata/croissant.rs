//! Croissant 1.1 JSON-LD: every payload file as a `cr:FileObject` with its SHA-256 from the
//! manifest, `cr:FileSet`s for partitioned tables and for the chunks of each Zarr array, and
//! one `cr:RecordSet` with typed fields per Parquet table. Zarr arrays are described as
//! files with their shapes: Croissant 1.1 has no vocabulary for Zarr records.

use serde_json::{Map, Value, json};

use super::facts::{ArrayFacts, TableFacts};
use super::{Facts, MetadataOptions, PARQUET_MEDIA_TYPE, ZARR_MEDIA_TYPE, licence_rights};

/// `conformsTo` of every document.
pub const CONFORMS_TO: &str = "http://mlcommons.org/croissant/1.1";

/// The media type the mlcroissant loader (1.1.x) reads Parquet by; listed after the
/// registered `application/vnd.apache.parquet` so that both kinds of reader find theirs.
pub const PARQUET_LOADER_TYPE: &str = "application/x-parquet";

/// The JSON-LD context of the Croissant 1.1 specification, Appendix 1, with two changes that
/// the reference validator (mlcroissant 1.1) needs: schema.org as `https://schema.org/` (the
/// IRI it recognises `sc:Dataset` by; with Appendix 1's `http://` it rejects the document as
/// "doesn't extend https://schema.org/Dataset"), and the four terms of its standard context
/// that Appendix 1 lacks (`path`, `repeated`, `replace`, `samplingRate`).
pub fn context() -> Value {
    let mut c = Map::new();
    for (k, v) in [
        ("@language", "en"),
        ("@vocab", "https://schema.org/"),
        ("sc", "https://schema.org/"),
        ("cr", "http://mlcommons.org/croissant/"),
        ("rai", "http://mlcommons.org/croissant/RAI/"),
        ("dct", "http://purl.org/dc/terms/"),
        ("annotation", "cr:annotation"),
        ("arrayShape", "cr:arrayShape"),
        ("citeAs", "cr:citeAs"),
        ("column", "cr:column"),
        ("conformsTo", "dct:conformsTo"),
        ("containedIn", "cr:containedIn"),
        ("equivalentProperty", "cr:equivalentProperty"),
        ("excludes", "cr:excludes"),
        ("extract", "cr:extract"),
        ("field", "cr:field"),
        ("fileProperty", "cr:fileProperty"),
        ("fileObject", "cr:fileObject"),
        ("fileSet", "cr:fileSet"),
        ("format", "cr:format"),
        ("includes", "cr:includes"),
        ("isArray", "cr:isArray"),
        ("isLiveDataset", "cr:isLiveDataset"),
        ("jsonPath", "cr:jsonPath"),
        ("key", "cr:key"),
        ("md5", "cr:md5"),
        ("parentField", "cr:parentField"),
        ("path", "cr:path"),
        ("recordSet", "cr:recordSet"),
        ("references", "cr:references"),
        ("regex", "cr:regex"),
        ("readLines", "cr:readLines"),
        ("repeated", "cr:repeated"),
        ("replace", "cr:replace"),
        ("samplingRate", "cr:samplingRate"),
        ("sdVersion", "cr:sdVersion"),
        ("separator", "cr:separator"),
        ("source", "cr:source"),
        ("subField", "cr:subField"),
        ("transform", "cr:transform"),
        ("unArchive", "cr:unArchive"),
        ("value", "cr:value"),
    ] {
        c.insert(k.into(), json!(v));
    }
    for (k, id) in [("data", "cr:data"), ("examples", "cr:examples")] {
        c.insert(k.into(), json!({"@id": id, "@type": "@json"}));
    }
    c.insert(
        "dataType".into(),
        json!({"@id": "cr:dataType", "@type": "@vocab"}),
    );
    let mut sorted: Vec<(String, Value)> = c.into_iter().collect();
    sorted.sort_by(|x, y| x.0.cmp(&y.0));
    Value::Object(sorted.into_iter().collect())
}

/// Where a payload file is: relative to `metadata/croissant.json` inside the bag (`../data/..`),
/// or under the published location when one is given.
fn content_url(facts: &Facts, opts: &MetadataOptions, path: &str) -> String {
    match &opts.url {
        Some(u) => format!(
            "{}/{}/{}/{path}",
            u.trim_end_matches('/'),
            facts.record.dataset,
            facts.record.version
        ),
        None => format!("../{path}"),
    }
}

/// The Croissant data type of an Arrow type (as Arrow prints it).
pub fn data_type(arrow: &str) -> &'static str {
    if arrow.starts_with("Timestamp") || arrow.starts_with("Date64") {
        "sc:DateTime"
    } else if arrow.starts_with("Date32") {
        "sc:Date"
    } else if arrow.starts_with("Int") || arrow.starts_with("UInt") {
        "sc:Integer"
    } else if arrow.starts_with("Float") || arrow.starts_with("Decimal") {
        "sc:Float"
    } else if arrow == "Boolean" {
        "sc:Boolean"
    } else {
        "sc:Text"
    }
}

/// A JSON-LD `@id` for a table or array path (no `/`, which separates record sets and fields).
pub fn node_id(path: &str) -> String {
    path.strip_prefix("data/")
        .unwrap_or(path)
        .replace(['/', '='], "_")
}

fn file_object(
    facts: &Facts,
    opts: &MetadataOptions,
    path: &str,
    format: Value,
    description: Option<String>,
) -> Value {
    let e = &facts.payload[path];
    let mut o = Map::new();
    o.insert("@type".into(), json!("cr:FileObject"));
    o.insert("@id".into(), json!(path));
    o.insert("name".into(), json!(path));
    if let Some(d) = description {
        o.insert("description".into(), json!(d));
    }
    o.insert("contentUrl".into(), json!(content_url(facts, opts, path)));
    o.insert("contentSize".into(), json!(format!("{} B", e.size)));
    o.insert("encodingFormat".into(), format);
    o.insert("sha256".into(), json!(e.sha256));
    Value::Object(o)
}

fn parquet_format() -> Value {
    json!([PARQUET_MEDIA_TYPE, PARQUET_LOADER_TYPE])
}

fn table_nodes(t: &TableFacts, dist: &mut Vec<Value>) -> Value {
    let rs = node_id(&t.name);
    let single = t.files.len() == 1 && t.partition_keys.is_empty();
    let source_ref = if single {
        json!({"fileObject": {"@id": t.files[0]}})
    } else {
        let set = format!("{rs}-files");
        dist.push(json!({
            "@type": "cr:FileSet",
            "@id": set,
            "name": set,
            "description": format!(
                "The {} Parquet files of table {} (hive partitions {}); each file is also listed as a FileObject with its SHA-256.",
                t.files.len(), t.name, t.partition_keys.join(", ")),
            "encodingFormat": parquet_format(),
            "includes": t.glob,
        }));
        json!({"fileSet": {"@id": set}})
    };
    let mut fields: Vec<Value> = t
        .columns
        .iter()
        .map(|c| {
            let mut src = source_ref.clone();
            src["extract"] = json!({"column": c.name});
            json!({
                "@type": "cr:Field",
                "@id": format!("{rs}/{}", c.name),
                "name": c.name,
                "description": format!("Parquet column {} ({}{})", c.name, c.data_type, if c.nullable { ", nullable" } else { "" }),
                "dataType": data_type(&c.data_type),
                "source": src,
            })
        })
        .collect();
    for k in &t.partition_keys {
        let mut src = source_ref.clone();
        src["extract"] = json!({"fileProperty": "fullpath"});
        src["transform"] = json!({"regex": format!("^.*{k}=([^/]*)/.*$")});
        fields.push(json!({
            "@type": "cr:Field",
            "@id": format!("{rs}/{k}"),
            "name": k,
            "description": format!("Hive partition key {k}, read from the file path (not a column inside the files)"),
            "dataType": "sc:Text",
            "source": src,
        }));
    }
    json!({
        "@type": "cr:RecordSet",
        "@id": rs,
        "name": rs,
        "description": format!("Table {}: {} rows in {} Parquet file(s), {} bytes.", t.name, t.rows, t.files.len(), t.bytes),
        "field": fields,
    })
}

fn array_description(a: &ArrayFacts) -> String {
    let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let dims: Vec<String> = a
        .dimension_names
        .iter()
        .map(|d| d.clone().unwrap_or_else(|| "-".into()))
        .collect();
    format!(
        "Zarr v3 array {}: shape ({}), data type {}, chunk shape ({}), dimensions [{}], {} chunk object(s), {} bytes. Croissant 1.1 cannot describe Zarr records yet, so the array is listed as files; open it with a Zarr v3 reader (zarr-python 3, xarray, tensorstore).",
        a.path.strip_prefix("data/").unwrap_or(&a.path),
        list(&a.shape),
        a.data_type,
        list(&a.chunk_shape),
        dims.join(", "),
        a.chunks.len(),
        a.bytes
    )
}

/// The Croissant document.
pub fn document(entry: &Value, facts: &Facts, opts: &MetadataOptions) -> Value {
    let r = &facts.record;
    let layout = &facts.layout;
    let mut dist = Vec::new();
    let mut record_sets = Vec::new();
    let mut described: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for t in &layout.tables {
        for f in &t.files {
            dist.push(file_object(facts, opts, f, parquet_format(), None));
            described.insert(f);
        }
    }
    for t in &layout.tables {
        record_sets.push(table_nodes(t, &mut dist));
    }
    for g in &layout.groups {
        let p = if g.path.is_empty() {
            "zarr.json".to_string()
        } else {
            format!("{}/zarr.json", g.path)
        };
        if facts.payload.contains_key(&p) {
            let d = format!(
                "Zarr v3 group metadata of {} (attributes included).",
                g.path
            );
            dist.push(file_object(
                facts,
                opts,
                &p,
                json!("application/json"),
                Some(d),
            ));
            described.insert(
                facts
                    .payload
                    .get_key_value(&p)
                    .map(|(k, _)| k.as_str())
                    .unwrap_or(""),
            );
        }
    }
    for a in &layout.arrays {
        let meta = format!("{}/zarr.json", a.path);
        if facts.payload.contains_key(&meta) {
            dist.push(file_object(
                facts,
                opts,
                &meta,
                json!("application/json"),
                Some(array_description(a)),
            ));
            described.insert(
                facts
                    .payload
                    .get_key_value(&meta)
                    .map(|(k, _)| k.as_str())
                    .unwrap_or(""),
            );
        }
        for c in &a.chunks {
            dist.push(file_object(
                facts,
                opts,
                c,
                json!("application/octet-stream"),
                Some(format!("chunk of Zarr array {}", a.path)),
            ));
            described.insert(c);
        }
        let set = format!("{}-chunks", node_id(&a.path));
        dist.push(json!({
            "@type": "cr:FileSet",
            "@id": set,
            "name": set,
            "description": array_description(a),
            "encodingFormat": ZARR_MEDIA_TYPE,
            "includes": format!("{}/c/**", a.path),
        }));
    }
    for f in facts.payload.keys() {
        if !described.contains(f.as_str()) {
            dist.push(file_object(
                facts,
                opts,
                f,
                json!("application/octet-stream"),
                None,
            ));
        }
    }

    let licences: Vec<String> = licence_rights(entry)
        .into_iter()
        .filter_map(|l| l.url)
        .collect();
    let creators: Vec<Value> = super::datacite::creators(entry)
        .into_iter()
        .map(|c| {
            let person = c["nameType"] == "Personal";
            let mut o = json!({"@type": if person { "sc:Person" } else { "sc:Organization" }, "name": c["name"]});
            if let Some(id) = c["nameIdentifiers"][0]["nameIdentifier"].as_str() {
                o["identifier"] = json!(id);
            }
            o
        })
        .collect();
    let publisher = super::datacite::publisher(entry);
    let mut pubj = json!({"@type": "sc:Organization", "name": publisher["name"]});
    if let Some(id) = publisher["publisherIdentifier"].as_str() {
        pubj["identifier"] = json!(id);
    }
    let name = entry["name"].as_str().unwrap_or(&r.dataset);
    let description = format!(
        "{} This is version {} of the sciml-data dataset '{}' (digest {}{}). Parquet tables are described as RecordSets; the Zarr v3 arrays are listed as files with their shapes because Croissant 1.1 cannot describe Zarr records yet.",
        entry["description"].as_str().unwrap_or(name),
        r.version,
        r.dataset,
        r.digest,
        r.parent
            .as_ref()
            .map(|p| format!(", parent version {p}"))
            .unwrap_or_default()
    );
    let url = match (&opts.doi, &opts.url) {
        (Some(doi), _) => format!("https://doi.org/{doi}"),
        (None, Some(u)) => format!("{}/{}/{}/", u.trim_end_matches('/'), r.dataset, r.version),
        (None, None) => entry["run_instructions"]["url"]
            .as_str()
            .or_else(|| entry["reference_code"][0]["url"].as_str())
            .unwrap_or("https://github.com/sciml-data/sciml-data")
            .to_string(),
    };
    let mut keywords: Vec<Value> = ["science_domain", "task"]
        .iter()
        .filter_map(|k| entry[*k].as_str().map(|s| json!(s)))
        .collect();
    keywords.push(json!("machine learning benchmark"));
    keywords.extend(
        entry["metadata"]["keywords"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    );
    let mut identifiers = vec![
        json!(r.digest),
        json!(format!("{}@{}", r.dataset, r.version)),
    ];
    if let Some(doi) = &opts.doi {
        identifiers.insert(0, json!(format!("https://doi.org/{doi}")));
    }
    let mut doc = Map::new();
    doc.insert("@context".into(), context());
    doc.insert("@type".into(), json!("sc:Dataset"));
    doc.insert("conformsTo".into(), json!(CONFORMS_TO));
    doc.insert("name".into(), json!(r.dataset));
    doc.insert("alternateName".into(), json!(name));
    doc.insert("description".into(), json!(description));
    doc.insert("url".into(), json!(url));
    doc.insert("identifier".into(), Value::Array(identifiers));
    doc.insert("version".into(), json!(r.version));
    doc.insert("license".into(), json!(licences));
    doc.insert("creator".into(), Value::Array(creators));
    doc.insert("publisher".into(), pubj);
    doc.insert("datePublished".into(), json!(r.created));
    doc.insert("dateCreated".into(), json!(r.created));
    doc.insert("inLanguage".into(), json!("en"));
    doc.insert("keywords".into(), Value::Array(keywords));
    doc.insert("isLiveDataset".into(), json!(false));
    if let Some(p) = entry["papers"].as_array().and_then(|p| p.first()) {
        doc.insert("citeAs".into(), json!(super::bibtex(p)));
    }
    let based: Vec<Value> = entry["dataset"]["raw_sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["url"].as_str().map(|u| json!(u)))
        .collect();
    if !based.is_empty() {
        doc.insert("isBasedOn".into(), Value::Array(based));
    }
    if let Some(p) = &facts.parent {
        let (id, _) = super::datacite::version_identifier(p, opts);
        // schema.org has no "previous version" property; record the parent as a related
        // CreativeWork the dataset is based on, with its digest.
        let entry = json!({"@type": "sc:Dataset", "name": format!("{}@{}", p.dataset, p.version), "identifier": [id, p.digest], "version": p.version});
        match doc.get_mut("isBasedOn") {
            Some(Value::Array(a)) => a.push(entry),
            _ => {
                doc.insert("isBasedOn".into(), json!([entry]));
            }
        }
    }
    doc.insert("distribution".into(), Value::Array(dist));
    doc.insert("recordSet".into(), Value::Array(record_sets));
    Value::Object(doc)
}
