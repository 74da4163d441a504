//! S3 ETags as a transfer check: for a single-part upload the ETag S3-compatible stores return
//! is the MD5 of the body they stored; for a multipart upload it is the MD5 of the parts' MD5s
//! followed by `-<parts>`. Comparing the returned ETag with the one computed locally proves the
//! store holds exactly the bytes sent, on stores that do not verify `x-amz-checksum-sha256`
//! themselves (moto does not; AWS and Garage do).
//!
//! ETags that are not of this form (server-side encryption with KMS, Azure, GCS, local files)
//! cannot be compared: [`compare`] says so and the caller checks the object another way.

use md5::{Digest, Md5};

/// The expected ETag of a single-part upload of `bytes`.
pub fn single(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Computes the ETag of a multipart upload cut into `part_size` parts (the last one shorter),
/// from the bytes in upload order.
#[derive(Clone)]
pub struct Multipart {
    part_size: usize,
    current: Md5,
    in_part: usize,
    parts: Vec<u8>,
    count: usize,
}

impl Multipart {
    pub fn new(part_size: usize) -> Self {
        Multipart {
            part_size: part_size.max(1),
            current: Md5::new(),
            in_part: 0,
            parts: Vec::new(),
            count: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (self.part_size - self.in_part).min(data.len());
            self.current.update(&data[..take]);
            self.in_part += take;
            data = &data[take..];
            if self.in_part == self.part_size {
                self.close_part();
            }
        }
    }

    fn close_part(&mut self) {
        let d = std::mem::replace(&mut self.current, Md5::new()).finalize();
        self.parts.extend_from_slice(&d);
        self.count += 1;
        self.in_part = 0;
    }

    pub fn finish(mut self) -> String {
        if self.in_part > 0 || self.count == 0 {
            self.close_part();
        }
        format!("{}-{}", hex::encode(Md5::digest(&self.parts)), self.count)
    }
}

/// Whether the store's ETag proves the expected content: `Some(true)` equal, `Some(false)`
/// different (damaged in transit, or an ETag of another kind that happens to look like an MD5),
/// `None` when the ETag is absent or not an MD5-style ETag.
pub fn compare(etag: Option<&str>, expected: &str) -> Option<bool> {
    let e = etag?.trim().trim_matches('"').to_ascii_lowercase();
    let (md5, parts) = match e.split_once('-') {
        Some((m, n)) => (m, Some(n)),
        None => (e.as_str(), None),
    };
    let md5_like = md5.len() == 32 && md5.chars().all(|c| c.is_ascii_hexdigit());
    let parts_ok = parts.is_none_or(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    (md5_like && parts_ok).then(|| e == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_part_etag_is_the_md5() {
        assert_eq!(single(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            compare(Some("\"D41D8CD98F00B204E9800998ECF8427E\""), &single(b"")),
            Some(true)
        );
        assert_eq!(
            compare(Some("\"d41d8cd98f00b204e9800998ecf8427f\""), &single(b"")),
            Some(false)
        );
        assert_eq!(compare(Some("0x8DC1234ABCD"), &single(b"")), None);
        assert_eq!(compare(None, &single(b"")), None);
    }

    #[test]
    fn multipart_etag_is_the_md5_of_the_part_md5s() {
        let data: Vec<u8> = (0..25u32).map(|i| i as u8).collect();
        let mut m = Multipart::new(10);
        // Fed in pieces that do not line up with the parts.
        for piece in data.chunks(7) {
            m.update(piece);
        }
        let mut cat = Vec::new();
        for part in data.chunks(10) {
            cat.extend_from_slice(&Md5::digest(part));
        }
        let want = format!("{}-3", hex::encode(Md5::digest(&cat)));
        assert_eq!(m.finish(), want);
        assert_eq!(compare(Some(&format!("\"{want}\"")), &want), Some(true));
        // Exactly one full part.
        let mut one = Multipart::new(25);
        one.update(&data);
        assert!(one.finish().ends_with("-1"));
    }
}
