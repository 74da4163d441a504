//! The links of a catalog entry: every `http(s)://` string and every DOI, with the JSON
//! pointer it sits at.
//!
//! Offline (always, in `catalog check`): each link must be a well-formed absolute URL with a
//! host, and each `doi` a well-formed DOI name (`10.<registrant>/<suffix>`). Online
//! (`catalog check --links`): each distinct URL must resolve, that is answer a `HEAD` (or, where
//! a server refuses `HEAD`, a one-byte ranged `GET`) with a success status after redirects.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

/// One link of an entry: where it is and what it points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// JSON pointer of the string, e.g. `/papers/0/url`.
    pub pointer: String,
    /// The URL to resolve (a DOI becomes `https://doi.org/<doi>`).
    pub url: String,
}

/// Every link of the entry, in document order.
pub fn links(entry: &Value) -> Vec<Link> {
    let mut out = Vec::new();
    walk(entry, String::new(), &mut out);
    out
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(v: &Value, ptr: String, out: &mut Vec<Link>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{ptr}/{}", escape(k));
                if k == "doi"
                    && let Some(d) = x.as_str()
                {
                    out.push(Link {
                        pointer: p,
                        url: format!("{DOI_RESOLVER}{d}"),
                    });
                } else {
                    walk(x, p, out);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, format!("{ptr}/{i}"), out);
            }
        }
        Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
            out.push(Link {
                pointer: ptr,
                url: s.clone(),
            })
        }
        _ => {}
    }
}

/// A DOI name: `10.` + a registrant code of digits (and dots) + `/` + a non-empty suffix
/// without white space.
pub fn is_doi(d: &str) -> bool {
    let Some(rest) = d.strip_prefix("10.") else {
        return false;
    };
    let Some((registrant, suffix)) = rest.split_once('/') else {
        return false;
    };
    !registrant.is_empty()
        && registrant.chars().all(|c| c.is_ascii_digit() || c == '.')
        && registrant
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
        && !suffix.is_empty()
        && !suffix.chars().any(char::is_whitespace)
}

/// Offline problems of the entry's links (malformed URLs and DOIs), as `catalog check` lines.
pub fn check_offline(file: &str, entry: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for l in links(entry) {
        if let Some(d) = l.url.strip_prefix(DOI_RESOLVER)
            && l.pointer.ends_with("/doi")
        {
            if !is_doi(d) {
                out.push(format!(
                    "{file}: {}: {d:?} is not a DOI name (10.<registrant>/<suffix>, without https://doi.org/)",
                    l.pointer
                ));
            }
            continue;
        }
        match url::Url::parse(&l.url) {
            Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => {}
            Ok(_) => out.push(format!("{file}: {}: {:?} has no host", l.pointer, l.url)),
            Err(e) => out.push(format!(
                "{file}: {}: {:?} is not a URL: {e}",
                l.pointer, l.url
            )),
        }
    }
    out
}

/// How one URL resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A success status (after redirects).
    Ok(u16),
    /// An error status.
    Status(u16),
    /// No answer: connection, TLS or time-out failure.
    Failed(String),
}

/// The resolver DOIs are resolved through unless told otherwise.
pub const DOI_RESOLVER: &str = "https://doi.org/";

/// Resolves every distinct URL once, `concurrency` at a time; returns URL -> resolution. DOI
/// links (`https://doi.org/...`) are fetched through `doi_resolver` (a mirror or proxy).
pub async fn resolve_all(
    urls: impl IntoIterator<Item = String>,
    doi_resolver: &str,
    timeout: Duration,
    concurrency: usize,
) -> anyhow::Result<BTreeMap<String, Resolution>> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!(
            "sciml-data/",
            env!("CARGO_PKG_VERSION"),
            " (catalog check --links)"
        ))
        .build()?;
    let distinct: std::collections::BTreeSet<String> = urls.into_iter().collect();
    let results: Vec<(String, Resolution)> = futures::stream::iter(distinct)
        .map(|u| {
            let client = client.clone();
            async move {
                let fetch = match u.strip_prefix(DOI_RESOLVER) {
                    Some(doi) => format!("{doi_resolver}{doi}"),
                    None => u.clone(),
                };
                let r = resolve(&client, &fetch).await;
                (u, r)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    Ok(results.into_iter().collect())
}

async fn resolve(client: &reqwest::Client, url: &str) -> Resolution {
    let head = client.head(url).send().await;
    match head {
        Ok(r) if r.status().is_success() => return Resolution::Ok(r.status().as_u16()),
        // Servers that refuse or mishandle HEAD get a one-byte GET instead.
        Ok(r) if ![404u16, 410].contains(&r.status().as_u16()) => {}
        Ok(r) => return Resolution::Status(r.status().as_u16()),
        Err(_) => {}
    }
    match client
        .get(url)
        .header(reqwest::header::RANGE, "bytes=0-0")
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => Resolution::Ok(r.status().as_u16()),
        Ok(r) => Resolution::Status(r.status().as_u16()),
        Err(e) => Resolution::Failed(error_chain(&e)),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// `catalog check --links` lines for one entry's unresolved links.
pub fn report(file: &str, entry: &Value, resolved: &BTreeMap<String, Resolution>) -> Vec<String> {
    let mut out = Vec::new();
    for l in links(entry) {
        match resolved.get(&l.url) {
            Some(Resolution::Status(s)) => {
                let reason = reqwest::StatusCode::from_u16(*s)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .unwrap_or("");
                out.push(format!(
                    "{file}: {}: {} does not resolve: HTTP {s} {reason}",
                    l.pointer, l.url
                ));
            }
            Some(Resolution::Failed(e)) => out.push(format!(
                "{file}: {}: {} does not resolve: {e}",
                l.pointer, l.url
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_with_their_pointers() {
        let v = serde_json::json!({
            "a": "https://example.org/x",
            "b": [{"doi": "10.1234/abc"}, "not a link", "http://h/p"],
            "c/d": {"source": "see https://inline.example (not whole)"}
        });
        let l = links(&v);
        assert_eq!(
            l,
            vec![
                Link {
                    pointer: "/a".into(),
                    url: "https://example.org/x".into()
                },
                Link {
                    pointer: "/b/0/doi".into(),
                    url: "https://doi.org/10.1234/abc".into()
                },
                Link {
                    pointer: "/b/2".into(),
                    url: "http://h/p".into()
                },
            ]
        );
    }

    #[test]
    fn dois_and_urls_are_checked_offline() {
        assert!(is_doi("10.13139/OLCF/1510313"));
        assert!(is_doi("10.5281/zenodo.1234"));
        assert!(!is_doi("https://doi.org/10.5281/zenodo.1234"));
        assert!(!is_doi("10./x") && !is_doi("10.123") && !is_doi("10.12/a b"));
        let v =
            serde_json::json!({"doi": "doi:10.1/x", "u": "https://", "w": "https://ok.example/a"});
        let p = check_offline("e.json", &v);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("/doi") && p[0].contains("not a DOI name"),
            "{p:?}"
        );
        assert!(p[1].contains("e.json: /u:"), "{p:?}");
    }
}
