//! DataCite metadata kernel 4.6 in the JSON form of the DataCite REST API:
//! `{"data": {"type": "dois", "attributes": {...}}}`. The attributes validate against the
//! vendored schemas/datacite-v4.6.json.

use serde_json::{Map, Value, json};

use super::{Facts, MetadataOptions, VersionRef, date_of_ms, licence_rights, ni_uri};

/// `schemaVersion` of every record.
pub const SCHEMA_VERSION: &str = "http://datacite.org/schema/kernel-4";

/// The whole REST API document (`{"data": {"type": "dois", "attributes": ...}}`).
pub fn document(entry: &Value, facts: &Facts, opts: &MetadataOptions) -> Value {
    json!({"data": {"type": "dois", "attributes": attributes(entry, facts, opts)}})
}

fn agent(a: &Value, contributor_type: Option<&str>) -> Value {
    let mut o = Map::new();
    let personal = a["name_type"] == "Personal";
    let name = match (a["family_name"].as_str(), a["given_name"].as_str()) {
        (Some(f), Some(g)) if personal => format!("{f}, {g}"),
        _ => a["name"].as_str().unwrap_or_default().to_string(),
    };
    o.insert("name".into(), json!(name));
    o.insert(
        "nameType".into(),
        json!(if personal {
            "Personal"
        } else {
            "Organizational"
        }),
    );
    if personal {
        if let Some(g) = a["given_name"].as_str() {
            o.insert("givenName".into(), json!(g));
        }
        if let Some(f) = a["family_name"].as_str() {
            o.insert("familyName".into(), json!(f));
        }
    }
    let mut ids = Vec::new();
    if let Some(orcid) = a["orcid"].as_str() {
        ids.push(json!({"nameIdentifier": format!("https://orcid.org/{orcid}"), "nameIdentifierScheme": "ORCID", "schemeUri": "https://orcid.org"}));
    }
    if let Some(ror) = a["ror"].as_str() {
        ids.push(json!({"nameIdentifier": ror, "nameIdentifierScheme": "ROR", "schemeUri": "https://ror.org"}));
    }
    if !ids.is_empty() {
        o.insert("nameIdentifiers".into(), Value::Array(ids));
    }
    if let Some(affs) = a["affiliations"].as_array() {
        let affs: Vec<Value> = affs
            .iter()
            .map(|f| {
                let mut m = Map::new();
                m.insert("name".into(), f["name"].clone());
                if let Some(ror) = f["ror"].as_str() {
                    m.insert("affiliationIdentifier".into(), json!(ror));
                    m.insert("affiliationIdentifierScheme".into(), json!("ROR"));
                    m.insert("schemeUri".into(), json!("https://ror.org"));
                }
                Value::Object(m)
            })
            .collect();
        o.insert("affiliation".into(), Value::Array(affs));
    }
    if let Some(t) = contributor_type {
        o.insert("contributorType".into(), json!(t));
    }
    Value::Object(o)
}

/// The creators: `metadata.creators` of the catalog entry, else its owner institutes.
pub fn creators(entry: &Value) -> Vec<Value> {
    match entry["metadata"]["creators"].as_array() {
        Some(c) if !c.is_empty() => c.iter().map(|a| agent(a, None)).collect(),
        _ => entry["owner_institutes"]
            .as_array()
            .map(|o| {
                o.iter()
                    .map(|i| {
                        let mut a = i.clone();
                        a["name_type"] = json!("Organizational");
                        agent(&a, None)
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The publisher: `metadata.publisher` of the catalog entry, else the first owner institute.
pub fn publisher(entry: &Value) -> Value {
    let p = if entry["metadata"]["publisher"].is_object() {
        &entry["metadata"]["publisher"]
    } else {
        &entry["owner_institutes"][0]
    };
    let mut o = Map::new();
    o.insert("name".into(), p["name"].clone());
    if let Some(ror) = p["ror"].as_str() {
        o.insert("publisherIdentifier".into(), json!(ror));
        o.insert("publisherIdentifierScheme".into(), json!("ROR"));
        o.insert("schemeUri".into(), json!("https://ror.org/"));
    }
    o.insert("lang".into(), json!("en"));
    Value::Object(o)
}

/// How a version is named in related identifiers: its DOI, its landing URL, or else the
/// RFC 6920 `ni:` URI of its digest (typed URL: DataCite has no type for hash URIs).
pub fn version_identifier(v: &VersionRef, opts: &MetadataOptions) -> (String, &'static str) {
    if let Some(doi) = &v.doi {
        (doi.clone(), "DOI")
    } else if let Some(base) = &opts.url {
        (
            format!(
                "{}/{}/{}/",
                base.trim_end_matches('/'),
                v.dataset,
                v.version
            ),
            "URL",
        )
    } else {
        (ni_uri(&v.digest), "URL")
    }
}

fn related(id: String, id_type: &str, relation: &str) -> Value {
    json!({"relatedIdentifier": id, "relatedIdentifierType": id_type, "relationType": relation})
}

/// The `attributes` object (what the vendored schema validates).
pub fn attributes(entry: &Value, facts: &Facts, opts: &MetadataOptions) -> Value {
    let r = &facts.record;
    let mut a = Map::new();
    if let Some(doi) = &opts.doi {
        a.insert("doi".into(), json!(doi));
    } else if let Some(prefix) = &opts.prefix {
        a.insert("prefix".into(), json!(prefix));
    }
    if let Some(url) = &opts.url {
        a.insert(
            "url".into(),
            json!(format!(
                "{}/{}/{}/",
                url.trim_end_matches('/'),
                r.dataset,
                r.version
            )),
        );
    }
    a.insert(
        "types".into(),
        json!({"resourceTypeGeneral": "Dataset", "resourceType": "Machine learning benchmark dataset (BagIt bag of Zarr v3 arrays and Parquet tables)"}),
    );
    a.insert("creators".into(), Value::Array(creators(entry)));
    let name = entry["name"].as_str().unwrap_or(&r.dataset);
    a.insert(
        "titles".into(),
        json!([
            {"title": format!("{name}: dataset {}, version {}", r.dataset, r.version), "lang": "en"},
            {"title": name, "titleType": "AlternativeTitle", "lang": "en"}
        ]),
    );
    a.insert("publisher".into(), publisher(entry));
    a.insert(
        "publicationYear".into(),
        json!(r.created.get(..4).unwrap_or("0000")),
    );
    let mut subjects = Vec::new();
    for key in ["science_domain", "task"] {
        if let Some(s) = entry[key].as_str() {
            subjects.push(json!({"subject": s, "lang": "en"}));
        }
    }
    subjects.push(json!({"subject": "Machine learning benchmark", "lang": "en"}));
    for k in entry["metadata"]["keywords"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(s) = k.as_str() {
            subjects.push(json!({"subject": s, "lang": "en"}));
        }
    }
    subjects.dedup();
    a.insert("subjects".into(), Value::Array(subjects));
    let contributors: Vec<Value> = entry["metadata"]["contributors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| agent(c, c["contributor_type"].as_str()))
        .collect();
    if !contributors.is_empty() {
        a.insert("contributors".into(), Value::Array(contributors));
    }

    let created = r.created.get(..10).unwrap_or(&r.created);
    let mut dates = vec![
        json!({"date": created, "dateType": "Created", "dateInformation": "the version was committed by sciml-data"}),
        json!({"date": created, "dateType": "Issued"}),
    ];
    if let Some(t) = facts.layout.time_range() {
        dates.push(json!({
            "date": format!("{}/{}", date_of_ms(t.min), date_of_ms(t.max)),
            "dateType": "Collected",
            "dateInformation": "first and last event time in the data"
        }));
    }
    a.insert("dates".into(), Value::Array(dates));
    a.insert("language".into(), json!("en"));
    a.insert(
        "alternateIdentifiers".into(),
        json!([
            {"alternateIdentifier": r.digest, "alternateIdentifierType": "sciml-data digest (SHA-256 of the BagIt manifest-sha256.txt)"},
            {"alternateIdentifier": format!("{}@{}", r.dataset, r.version), "alternateIdentifierType": "sciml-data version"}
        ]),
    );

    let mut rel = Vec::new();
    if let Some(p) = &facts.parent {
        let (id, t) = version_identifier(p, opts);
        rel.push(related(id, t, "IsNewVersionOf"));
    }
    for s in &facts.successors {
        let (id, t) = version_identifier(s, opts);
        rel.push(related(id, t, "IsPreviousVersionOf"));
    }
    let concept = opts
        .concept_doi
        .clone()
        .or_else(|| entry["metadata"]["concept_doi"].as_str().map(String::from));
    if let Some(c) = concept {
        rel.push(related(c, "DOI", "IsVersionOf"));
    }
    for s in entry["dataset"]["raw_sources"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(u) = s["url"].as_str() {
            rel.push(related(u.to_string(), "URL", "IsDerivedFrom"));
        }
    }
    let base = opts
        .url
        .as_ref()
        .map(|u| format!("{}/{}/{}", u.trim_end_matches('/'), r.dataset, r.version));
    let manifest_id = match &base {
        Some(b) => format!("{b}/{}", crate::bag::MANIFEST),
        None => ni_uri(&r.digest),
    };
    let mut m = related(manifest_id, "URL", "HasMetadata");
    m["relatedMetadataScheme"] =
        json!("BagIt manifest-sha256.txt (RFC 8493); its SHA-256 is the version digest");
    m["schemeUri"] = json!("https://www.rfc-editor.org/rfc/rfc8493");
    rel.push(m);
    if let Some(sha) = &facts.croissant_sha256 {
        let id = match &base {
            Some(b) => format!("{b}/{}", super::CROISSANT_FILE),
            None => ni_uri(&format!("sha256:{sha}")),
        };
        let mut c = related(id, "URL", "HasMetadata");
        c["relatedMetadataScheme"] = json!("Croissant 1.1");
        c["schemeUri"] = json!("http://mlcommons.org/croissant/1.1");
        rel.push(c);
    }
    for code in entry["reference_code"].as_array().into_iter().flatten() {
        if let (Some(u), Some(commit)) = (code["url"].as_str(), code["commit"].as_str()) {
            let path = code["path"].as_str().unwrap_or("");
            let url = if path.is_empty() {
                format!("{}/tree/{commit}", u.trim_end_matches('/'))
            } else {
                format!("{}/tree/{commit}/{path}", u.trim_end_matches('/'))
            };
            rel.push(related(url, "URL", "IsSupplementTo"));
        }
    }
    if let Some(u) = entry["run_instructions"]["url"].as_str() {
        rel.push(related(u.to_string(), "URL", "IsDocumentedBy"));
    }
    for p in entry["papers"].as_array().into_iter().flatten() {
        if let Some(d) = p["doi"].as_str() {
            rel.push(related(d.to_string(), "DOI", "IsDocumentedBy"));
        } else if let Some(u) = p["url"].as_str() {
            rel.push(related(u.to_string(), "URL", "IsDocumentedBy"));
        }
    }
    dedup(&mut rel);
    a.insert("relatedIdentifiers".into(), Value::Array(rel));

    let mut sizes = vec![
        format!("{} bytes", r.payload.bytes),
        format!("{} files", r.payload.files),
    ];
    for t in &facts.layout.tables {
        sizes.push(format!("{} rows in table {}", t.rows, t.name));
    }
    for ar in &facts.layout.arrays {
        let shape: Vec<String> = ar.shape.iter().map(u64::to_string).collect();
        sizes.push(format!(
            "array {} of shape ({})",
            ar.path.strip_prefix("data/").unwrap_or(&ar.path),
            shape.join(", ")
        ));
    }
    let s = &entry["dataset"]["samples"];
    if let Some(unit) = s["unit"].as_str() {
        for k in ["train", "validation", "test"] {
            if let Some(n) = s[k].as_u64() {
                sizes.push(format!("{n} {k} samples ({unit}, benchmark definition)"));
            }
        }
    }
    sizes.dedup();
    a.insert("sizes".into(), json!(sizes));
    a.insert("formats".into(), json!(facts.layout.formats()));
    a.insert("version".into(), json!(r.version));
    let rights: Vec<Value> = licence_rights(entry)
        .into_iter()
        .map(|l| {
            let mut o = Map::new();
            o.insert("rights".into(), json!(l.rights));
            if let Some(u) = l.url {
                o.insert("rightsUri".into(), json!(u));
            }
            if let Some(id) = l.spdx {
                o.insert("rightsIdentifier".into(), json!(id));
                o.insert("rightsIdentifierScheme".into(), json!("SPDX"));
                o.insert("schemeUri".into(), json!("https://spdx.org/licenses/"));
            }
            o.insert("lang".into(), json!("en"));
            Value::Object(o)
        })
        .collect();
    a.insert("rightsList".into(), Value::Array(rights));

    let mut descriptions = Vec::new();
    if let Some(d) = entry["description"].as_str() {
        descriptions.push(json!({"description": d, "descriptionType": "Abstract", "lang": "en"}));
    }
    descriptions.push(json!({"description": super::methods_text(facts), "descriptionType": "Methods", "lang": "en"}));
    descriptions.push(json!({"description": super::technical_text(facts), "descriptionType": "TechnicalInfo", "lang": "en"}));
    a.insert("descriptions".into(), Value::Array(descriptions));

    let geo: Vec<Value> = facts
        .layout
        .geo_boxes()
        .into_iter()
        .map(|(place, b)| {
            json!({"geoLocationPlace": place, "geoLocationBox": {
                "westBoundLongitude": b.west, "eastBoundLongitude": b.east,
                "southBoundLatitude": b.south, "northBoundLatitude": b.north}})
        })
        .collect();
    if !geo.is_empty() {
        a.insert("geoLocations".into(), Value::Array(geo));
    }
    let funding: Vec<Value> = entry["metadata"]["funding"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let mut o = Map::new();
            o.insert("funderName".into(), f["funder_name"].clone());
            if let Some(ror) = f["funder_ror"].as_str() {
                o.insert("funderIdentifier".into(), json!(ror));
                o.insert("funderIdentifierType".into(), json!("ROR"));
            }
            for (k, v) in [
                ("award_number", "awardNumber"),
                ("award_title", "awardTitle"),
            ] {
                if let Some(s) = f[k].as_str() {
                    o.insert(v.into(), json!(s));
                }
            }
            Value::Object(o)
        })
        .collect();
    if !funding.is_empty() {
        a.insert("fundingReferences".into(), Value::Array(funding));
    }
    a.insert("schemaVersion".into(), json!(SCHEMA_VERSION));
    Value::Object(a)
}

fn dedup(v: &mut Vec<Value>) {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|x| seen.insert(x.to_string()));
}
