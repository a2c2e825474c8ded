//! ListBuckets (the one bucket), ListObjectsV2 and ListObjects: a prefix, the delimiter
//! `/` (folders as common prefixes) or none (every file below, at any depth), pages of
//! at most 1,000 keys in S3's byte order, continuation by the last key. Each page is a
//! bounded number of store rows (`Cells::children_by_key`, `Cells::files_by_path`),
//! filtered by the caller's scopes as every listing is.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cells_core::{NodeKind, TreePath};
use cells_service::keyed::KeyPage;
use cells_service::{Cells, NodeView, Principal, ServiceError};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::objects::{etag, last_modified};
use super::{BUCKET, check_bucket, error, principal};

/// The most keys one page holds, as S3 has it.
const MAX_KEYS: i32 = 1000;

pub async fn list_buckets(cells: &Cells, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
    let principal = principal(&req)?;
    // The bucket exists for anyone who may enter a workspace; its date is the oldest of
    // theirs.
    let roots = cells.workspaces_by_key(&principal).await.map_err(error::key)?;
    let created = roots.iter().map(|r| r.node.mtime).min().unwrap_or(0);
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(vec![Bucket {
            name: Some(BUCKET.to_owned()),
            creation_date: Some(last_modified(created)),
            bucket_region: Some(super::REGION.to_owned()),
        }]),
        owner: Some(Owner { display_name: Some(principal.login.to_string()), id: Some(principal.login.to_string()) }),
        ..Default::default()
    }))
}

/// One page of a listing.
#[derive(Default)]
struct Listing {
    contents: Vec<Object>,
    prefixes: Vec<String>,
    /// The last key given, when there may be more.
    next: Option<String>,
}

impl Listing {
    fn len(&self) -> usize {
        self.contents.len() + self.prefixes.len()
    }
}

fn object(key: String, view: &NodeView) -> Object {
    Object {
        key: Some(key),
        size: Some(view.node.size),
        e_tag: Some(ETag::Strong(etag(&view.node))),
        last_modified: Some(last_modified(view.node.mtime)),
        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
        ..Default::default()
    }
}

/// A listing of a place the caller cannot see is empty, as S3 lists a prefix that
/// holds nothing; other refusals are errors.
fn empty_if_hidden(result: Result<KeyPage, ServiceError>) -> S3Result<KeyPage> {
    match result {
        Ok(page) => Ok(page),
        Err(ServiceError::NotFound(_) | ServiceError::BadRequest(_)) => Ok(KeyPage::default()),
        Err(err) => Err(error::key(err)),
    }
}

/// The part of `after` (a whole key) that applies below `base` (a key prefix ending in
/// `/`): `None` when everything below `base` sorts before `after`.
fn after_below<'a>(after: &'a str, base: &str) -> Option<&'a str> {
    if let Some(rest) = after.strip_prefix(base) {
        Some(rest)
    } else if after < base {
        Some("")
    } else {
        None
    }
}

async fn listing(
    cells: &Cells,
    principal: &Principal,
    prefix: &str,
    delimiter: Option<&str>,
    after: &str,
    max: usize,
) -> S3Result<Listing> {
    if max == 0 {
        return Ok(Listing::default());
    }
    match delimiter {
        Some("/") => delimited(cells, principal, prefix, after, max).await,
        None | Some("") => recursive(cells, principal, prefix, after, max).await,
        Some(_) => Err(s3_error!(NotImplemented, "the only delimiter is /")),
    }
}

async fn delimited(cells: &Cells, principal: &Principal, prefix: &str, after: &str, max: usize) -> S3Result<Listing> {
    let mut listing = Listing::default();
    let Some(slash) = prefix.rfind('/') else {
        // The top: the workspaces, as common prefixes.
        let roots = cells.workspaces_by_key(principal).await.map_err(error::key)?;
        let keys = roots.iter().map(|r| format!("{}/", r.path.workspace()));
        let mut keys = keys.filter(|k| k.starts_with(prefix) && k.as_str() > after);
        listing.prefixes = keys.by_ref().take(max).collect();
        if keys.next().is_some() {
            listing.next = listing.prefixes.last().cloned();
        }
        return Ok(listing);
    };
    let (folder_key, name_prefix) = (&prefix[..slash], &prefix[slash + 1..]);
    let base = format!("{folder_key}/");
    let Some(after) = after_below(after, &base) else { return Ok(listing) };
    let Ok(folder) = TreePath::parse_relative(folder_key) else { return Ok(listing) };
    let page = empty_if_hidden(cells.children_by_key(principal, &folder, name_prefix, after, max).await)?;
    for view in &page.entries {
        match view.node.kind {
            NodeKind::Collection => listing.prefixes.push(format!("{base}{}/", view.node.name)),
            NodeKind::Leaf => listing.contents.push(object(format!("{base}{}", view.node.name), view)),
        }
    }
    listing.next = page.next_after.map(|name| format!("{base}{name}"));
    Ok(listing)
}

async fn recursive(cells: &Cells, principal: &Principal, prefix: &str, after: &str, max: usize) -> S3Result<Listing> {
    let mut listing = Listing::default();
    let workspaces: Vec<(String, String)> = match prefix.split_once('/') {
        Some((slug, path_prefix)) => vec![(slug.to_owned(), path_prefix.to_owned())],
        None => {
            let roots = cells.workspaces_by_key(principal).await.map_err(error::key)?;
            roots
                .iter()
                .map(|r| r.path.workspace().to_owned())
                .filter(|slug| slug.starts_with(prefix))
                .map(|slug| (slug, String::new()))
                .collect()
        }
    };
    for (slug, path_prefix) in workspaces {
        let base = format!("{slug}/");
        let Some(after) = after_below(after, &base) else { continue };
        let Ok(root) = TreePath::workspace_root(&slug) else { continue };
        let want = max - listing.len();
        let page = empty_if_hidden(cells.files_by_path(principal, &root, &path_prefix, after, want).await)?;
        for view in &page.entries {
            listing.contents.push(object(format!("{base}{}", view.node.path), view));
        }
        if let Some(next) = page.next_after {
            listing.next = Some(format!("{base}{next}"));
            return Ok(listing);
        }
    }
    Ok(listing)
}

/// `encoding-type=url`: keys and prefixes percent-encoded (all but unreserved bytes and
/// `/`), as S3 writes them.
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn encode_listing(listing: &mut Listing, encoding: Option<&EncodingType>) -> bool {
    if encoding.is_none_or(|e| e.as_str() != EncodingType::URL) {
        return false;
    }
    for object in &mut listing.contents {
        object.key = object.key.as_deref().map(url_encode);
    }
    for prefix in &mut listing.prefixes {
        *prefix = url_encode(prefix);
    }
    true
}

fn max_keys(asked: Option<i32>) -> usize {
    usize::try_from(asked.unwrap_or(MAX_KEYS).clamp(0, MAX_KEYS)).unwrap_or(0)
}

fn common_prefixes(prefixes: Vec<String>) -> Vec<CommonPrefix> {
    prefixes.into_iter().map(|prefix| CommonPrefix { prefix: Some(prefix) }).collect()
}

pub async fn list_objects_v2(
    cells: &Cells,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let input = req.input;
    let prefix = input.prefix.clone().unwrap_or_default();
    let after = match &input.continuation_token {
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| s3_error!(InvalidArgument, "the continuation token is not one this server gave"))?,
        None => input.start_after.clone().unwrap_or_default(),
    };
    let max = max_keys(input.max_keys);
    let mut listing = listing(cells, &principal, &prefix, input.delimiter.as_deref(), &after, max).await?;
    let encoded = encode_listing(&mut listing, input.encoding_type.as_ref());
    let key_count = i32::try_from(listing.len()).unwrap_or(i32::MAX);
    let next = listing.next.take();
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(BUCKET.to_owned()),
        prefix: Some(if encoded { url_encode(&prefix) } else { prefix }),
        delimiter: input.delimiter,
        max_keys: Some(i32::try_from(max).unwrap_or(MAX_KEYS)),
        key_count: Some(key_count),
        continuation_token: input.continuation_token,
        start_after: input.start_after,
        is_truncated: Some(next.is_some()),
        next_continuation_token: next.map(|key| URL_SAFE_NO_PAD.encode(key)),
        contents: Some(listing.contents),
        common_prefixes: Some(common_prefixes(listing.prefixes)),
        encoding_type: if encoded { input.encoding_type } else { None },
        ..Default::default()
    }))
}

pub async fn list_objects(cells: &Cells, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
    check_bucket(&req.input.bucket)?;
    let principal = principal(&req)?;
    let input = req.input;
    let prefix = input.prefix.clone().unwrap_or_default();
    let after = input.marker.clone().unwrap_or_default();
    let max = max_keys(input.max_keys);
    let mut listing = listing(cells, &principal, &prefix, input.delimiter.as_deref(), &after, max).await?;
    let next = listing.next.take();
    let encoded = encode_listing(&mut listing, input.encoding_type.as_ref());
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(BUCKET.to_owned()),
        prefix: Some(if encoded { url_encode(&prefix) } else { prefix }),
        marker: input.marker,
        delimiter: input.delimiter,
        max_keys: Some(i32::try_from(max).unwrap_or(MAX_KEYS)),
        is_truncated: Some(next.is_some()),
        next_marker: next.map(|key| if encoded { url_encode(&key) } else { key }),
        contents: Some(listing.contents),
        common_prefixes: Some(common_prefixes(listing.prefixes)),
        encoding_type: if encoded { input.encoding_type } else { None },
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::{after_below, url_encode};

    #[test]
    fn a_key_to_start_after_applies_below_its_folder_only() {
        assert_eq!(after_below("ws/a/b.txt", "ws/a/"), Some("b.txt"));
        assert_eq!(after_below("ws/a/", "ws/a/"), Some(""));
        // Everything below `ws/a/` sorts after `ws/`, and before `ws/b`.
        assert_eq!(after_below("ws/", "ws/a/"), Some(""));
        assert_eq!(after_below("ws/b", "ws/a/"), None);
        // `-` sorts before `/`: `ws/a-z` comes before everything in `ws/a/`.
        assert_eq!(after_below("ws/a-z", "ws/a/"), Some(""));
        assert_eq!(after_below("ws/a0", "ws/a/"), None);
    }

    #[test]
    fn url_encoding_keeps_slashes_and_unreserved_bytes() {
        assert_eq!(url_encode("ws/dir one/a+b%c ü.txt"), "ws/dir%20one/a%2Bb%25c%20%C3%BC.txt");
        assert_eq!(url_encode("A-z_0.~/"), "A-z_0.~/");
    }
}
