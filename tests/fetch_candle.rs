//! `sciml-data fetch candle` against a loopback HTTP server that honours `Range`
//! (206 + Content-Range) and can cut a transfer off half-way, as a flaky link would.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sciml_data::sources::candle::fetch::{FetchOptions, PROVENANCE_FILE, fetch, read_provenance};
use sha2::{Digest, Sha256};

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    /// Files whose first full (non-range) transfer is cut off half-way.
    cut_once: HashSet<String>,
    /// (path, Range header) of every request.
    requests: Vec<(String, Option<String>)>,
}

struct Server {
    base: String,
    state: Arc<Mutex<State>>,
}

fn serve(state: Arc<Mutex<State>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/combo/", listener.local_addr().unwrap());
    let st = state.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let st = st.clone();
            std::thread::spawn(move || handle(stream, st));
        }
    });
    Server { base, state }
}

fn handle(mut stream: TcpStream, st: Arc<Mutex<State>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut range = None;
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_string());
        }
    }
    let name = path.trim_start_matches("/combo/").to_string();
    let (body, cut) = {
        let mut s = st.lock().unwrap();
        s.requests.push((path.clone(), range.clone()));
        let cut = range.is_none() && s.cut_once.remove(&name);
        (s.files.get(&name).cloned(), cut)
    };
    let Some(body) = body else {
        let _ = stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        );
        return;
    };
    let start: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .unwrap_or(0);
    let head = if range.is_some() {
        if start >= body.len() {
            let _ = write!(
                stream,
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                body.len()
            );
            return;
        }
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len() - 1,
            body.len(),
            body.len() - start
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
    };
    let _ = stream.write_all(head.as_bytes());
    let rest = &body[start..];
    if cut {
        let _ = stream.write_all(&rest[..rest.len() / 2]);
        let _ = stream.flush();
        std::thread::sleep(Duration::from_millis(50));
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = stream.write_all(rest);
}

fn content(n: usize, seed: u8) -> Vec<u8> {
    let mut v = b"SOURCE\tCELL\tDRUG\tSTUDY\tAUC\n".to_vec();
    let mut i = 0u64;
    while v.len() < n {
        v.extend_from_slice(
            format!(
                "CCLE\tCCLE.22RV1\tCCLE.{}\t{seed}\t0.{}\n",
                i % 24,
                i % 9973
            )
            .as_bytes(),
        );
        i += 1;
    }
    v
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn opts(base: &str, out: &std::path::Path, files: &[&str]) -> FetchOptions {
    FetchOptions {
        out: out.to_path_buf(),
        base_url: base.to_string(),
        files: files.iter().map(|s| s.to_string()).collect(),
        parallel: 2,
        max_retries: 3,
        retry_base_delay: Duration::from_millis(10),
        progress: false,
    }
}

fn server_with(files: &[(&str, Vec<u8>)]) -> Server {
    let state = Arc::new(Mutex::new(State::default()));
    for (n, b) in files {
        state.lock().unwrap().files.insert(n.to_string(), b.clone());
    }
    serve(state)
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_files_with_sizes_and_hashes_and_reuses_them() {
    let files = [
        ("combined_single_response_agg", content(300_000, 1)),
        ("drug_info", content(2_000, 2)),
        ("cl_mapping", content(10, 3)),
    ];
    let s = server_with(&files);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("raw");
    let names: Vec<&str> = files.iter().map(|f| f.0).collect();
    let prov = fetch(&opts(&s.base, &out, &names)).await.unwrap();
    assert_eq!(prov.files.len(), 3);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        prov.files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        sorted
    );
    for (n, b) in &files {
        assert_eq!(&std::fs::read(out.join(n)).unwrap(), b);
        let rec = prov.files.iter().find(|f| f.name == *n).unwrap();
        assert_eq!(rec.size, b.len() as u64);
        assert_eq!(rec.sha256, sha(b));
        assert_eq!(rec.url, format!("{}{n}", s.base));
        assert!(!out.join(format!("{n}.part")).exists());
    }
    assert_eq!(read_provenance(&out).unwrap().unwrap().files, prov.files);
    assert!(out.join(PROVENANCE_FILE).is_file());
    // Second run: verified files are not requested again.
    let before = s.state.lock().unwrap().requests.len();
    let again = fetch(&opts(&s.base, &out, &names)).await.unwrap();
    assert_eq!(again.files, prov.files);
    assert_eq!(s.state.lock().unwrap().requests.len(), before);
    // A corrupted local copy is fetched again.
    std::fs::write(out.join("drug_info"), vec![b'x'; files[1].1.len()]).unwrap();
    fetch(&opts(&s.base, &out, &names)).await.unwrap();
    assert_eq!(std::fs::read(out.join("drug_info")).unwrap(), files[1].1);
    assert_eq!(s.state.lock().unwrap().requests.len(), before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn resumes_with_range_after_a_truncated_transfer() {
    let body = content(500_000, 7);
    let s = server_with(&[("rescaled_combined_single_drug_growth", body.clone())]);
    s.state
        .lock()
        .unwrap()
        .cut_once
        .insert("rescaled_combined_single_drug_growth".into());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("raw");
    let prov = fetch(&opts(
        &s.base,
        &out,
        &["rescaled_combined_single_drug_growth"],
    ))
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(out.join("rescaled_combined_single_drug_growth")).unwrap(),
        body
    );
    let rec = &prov.files[0];
    assert_eq!(rec.sha256, sha(&body));
    assert!(
        rec.resumed_from > 0 && rec.resumed_from < body.len() as u64,
        "{rec:?}"
    );
    let reqs = s.state.lock().unwrap().requests.clone();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].1, None);
    assert_eq!(reqs[1].1, Some(format!("bytes={}-", rec.resumed_from)));
}

#[tokio::test(flavor = "multi_thread")]
async fn resumes_a_leftover_part_file_and_reports_missing_files() {
    let body = content(50_000, 9);
    let s = server_with(&[("drug_info", body.clone())]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("raw");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("drug_info.part"), &body[..1000]).unwrap();
    let e = fetch(&opts(&s.base, &out, &["drug_info", "cl_metadata"]))
        .await
        .unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("1 of 2 files failed") && msg.contains("cl_metadata") && msg.contains("404"),
        "{msg}"
    );
    // The other file was completed from byte 1000 and recorded.
    assert_eq!(std::fs::read(out.join("drug_info")).unwrap(), body);
    let prov = read_provenance(&out).unwrap().unwrap();
    assert_eq!(prov.files.len(), 1);
    assert_eq!(prov.files[0].resumed_from, 1000);
    assert_eq!(prov.files[0].sha256, sha(&body));
    let reqs = s.state.lock().unwrap().requests.clone();
    assert!(reqs.contains(&(
        "/combo/drug_info".to_string(),
        Some("bytes=1000-".to_string())
    )));
    // A complete leftover part (server answers 416) is accepted as is.
    std::fs::remove_file(out.join("drug_info")).unwrap();
    std::fs::remove_file(out.join(PROVENANCE_FILE)).unwrap();
    std::fs::write(out.join("drug_info.part"), &body).unwrap();
    let p = fetch(&opts(&s.base, &out, &["drug_info"])).await.unwrap();
    assert_eq!(p.files[0].sha256, sha(&body));
    assert_eq!(std::fs::read(out.join("drug_info")).unwrap(), body);
}
