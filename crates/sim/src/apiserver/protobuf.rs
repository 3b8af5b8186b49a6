//! The Kubernetes protobuf encoding, for the few request bodies kubectl's typed clients
//! send that way (they never fall back to JSON): Eviction, SelfSubjectAccessReview,
//! SelfSubjectRulesReview, SelfSubjectReview, DeleteOptions, and the ConfigMaps and
//! Secrets of `kubectl create configmap|secret`. Each is decoded into the JSON the rest of the
//! server understands. Any other protobuf body is refused with 415.
//!
//! Wire format: the 4-byte magic `k8s\0`, then a `runtime.Unknown` message
//! (typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2) whose `raw` is the object.

use serde_json::{Map, Value, json};

use crate::status::ApiError;

const MAGIC: &[u8] = b"k8s\0";

/// One field of a protobuf message: its number and its value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(out);
        }
    }
    None
}

/// Splits a message into its fields; None if it is malformed.
fn fields(buf: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        let (num, wire) = (tag >> 3, tag & 7);
        let value = match wire {
            0 => Field::Varint(varint(buf, &mut pos)?),
            2 => {
                let len = varint(buf, &mut pos)? as usize;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len())?;
                let bytes = &buf[pos..end];
                pos = end;
                Field::Bytes(bytes)
            }
            1 => {
                pos += 8;
                continue;
            }
            5 => {
                pos += 4;
                continue;
            }
            _ => return None,
        };
        out.push((num, value));
    }
    Some(out)
}

fn string(f: &Field<'_>) -> Option<String> {
    match f {
        Field::Bytes(b) => std::str::from_utf8(b).ok().map(String::from),
        Field::Varint(_) => None,
    }
}

fn message<'a>(f: &Field<'a>) -> &'a [u8] {
    match f {
        Field::Bytes(b) => b,
        Field::Varint(_) => &[],
    }
}

/// Decodes the string-valued fields of a message into a JSON object by field number.
fn strings(buf: &[u8], names: &[(u64, &str)]) -> Option<Value> {
    let mut obj = Map::new();
    for (num, f) in fields(buf)? {
        if let Some((_, name)) = names.iter().find(|(n, _)| *n == num)
            && let Some(s) = string(&f)
        {
            obj.insert(name.to_string(), json!(s));
        }
    }
    Some(Value::Object(obj))
}

fn object_meta(buf: &[u8]) -> Option<Value> {
    let mut meta = strings(
        buf,
        &[
            (1, "name"),
            (2, "generateName"),
            (3, "namespace"),
            (5, "uid"),
            (6, "resourceVersion"),
        ],
    )?;
    for (num, key) in [(11, "labels"), (12, "annotations")] {
        let map = string_map(buf, num, |b| std::str::from_utf8(b).ok().map(|s| json!(s)))?;
        if !map.is_empty() {
            meta[key] = Value::Object(map);
        }
    }
    Some(meta)
}

/// A protobuf `map<string, V>` field `num` of a message: repeated entries with the key
/// as field 1 and the value (read by `value`) as field 2.
fn string_map(
    buf: &[u8],
    num: u64,
    value: impl Fn(&[u8]) -> Option<Value>,
) -> Option<Map<String, Value>> {
    let mut map = Map::new();
    for (n, f) in fields(buf)? {
        if n != num {
            continue;
        }
        let (mut k, mut v) = (None, None);
        for (en, ef) in fields(message(&f))? {
            match en {
                1 => k = string(&ef),
                2 => v = value(message(&ef)),
                _ => {}
            }
        }
        // A map entry may leave out an empty value.
        map.insert(k?, v.unwrap_or_else(|| value(&[]).unwrap_or(Value::Null)));
    }
    Some(map)
}

/// ConfigMap: metadata 1, data 2, binaryData 3 (base64 in JSON), immutable 4.
fn config_map(buf: &[u8]) -> Option<Value> {
    let text = |b: &[u8]| std::str::from_utf8(b).ok().map(|s| json!(s));
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap"});
    for (num, f) in fields(buf)? {
        match (num, &f) {
            (1, _) => obj["metadata"] = object_meta(message(&f))?,
            (4, Field::Varint(v)) => obj["immutable"] = json!(*v != 0),
            _ => {}
        }
    }
    for (num, key, value) in [
        (2, "data", text as fn(&[u8]) -> Option<Value>),
        (3, "binaryData", base64_value),
    ] {
        let map = string_map(buf, num, value)?;
        if !map.is_empty() {
            obj[key] = Value::Object(map);
        }
    }
    Some(obj)
}

/// Secret: metadata 1, data 2 (bytes, base64 in JSON), type 3, stringData 4, immutable 5.
fn secret(buf: &[u8]) -> Option<Value> {
    let mut obj = json!({"apiVersion": "v1", "kind": "Secret"});
    for (num, f) in fields(buf)? {
        match (num, &f) {
            (1, _) => obj["metadata"] = object_meta(message(&f))?,
            (3, _) => obj["type"] = json!(string(&f)?),
            (5, Field::Varint(v)) => obj["immutable"] = json!(*v != 0),
            _ => {}
        }
    }
    let data = string_map(buf, 2, base64_value)?;
    if !data.is_empty() {
        obj["data"] = Value::Object(data);
    }
    let string_data = string_map(buf, 4, |b| std::str::from_utf8(b).ok().map(|s| json!(s)))?;
    if !string_data.is_empty() {
        obj["stringData"] = Value::Object(string_data);
    }
    Some(obj)
}

fn base64_value(bytes: &[u8]) -> Option<Value> {
    use base64::Engine;
    Some(json!(
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

fn delete_options(buf: &[u8]) -> Option<Value> {
    let mut obj = Map::new();
    for (num, f) in fields(buf)? {
        match (num, &f) {
            (1, Field::Varint(v)) => {
                obj.insert("gracePeriodSeconds".into(), json!(*v as i64));
            }
            (2, _) => {
                let mut pre = Map::new();
                for (num, f) in fields(message(&f))? {
                    let field = match num {
                        1 => "uid",
                        2 => "resourceVersion",
                        _ => continue,
                    };
                    pre.insert(field.into(), json!(string(&f)?));
                }
                obj.insert("preconditions".into(), Value::Object(pre));
            }
            (3, Field::Varint(v)) => {
                obj.insert("orphanDependents".into(), json!(*v != 0));
            }
            (4, _) => {
                obj.insert("propagationPolicy".into(), json!(string(&f)?));
            }
            _ => {}
        }
    }
    Some(Value::Object(obj))
}

fn eviction(buf: &[u8]) -> Option<Value> {
    let mut obj = json!({"apiVersion": "policy/v1", "kind": "Eviction"});
    for (num, f) in fields(buf)? {
        match num {
            1 => obj["metadata"] = object_meta(message(&f))?,
            2 => obj["deleteOptions"] = delete_options(message(&f))?,
            _ => {}
        }
    }
    Some(obj)
}

fn access_review(buf: &[u8]) -> Option<Value> {
    let mut spec = Map::new();
    for (num, f) in fields(buf)? {
        if num != 2 {
            continue;
        }
        for (snum, sf) in fields(message(&f))? {
            match snum {
                1 => {
                    let attrs = strings(
                        message(&sf),
                        &[
                            (1, "namespace"),
                            (2, "verb"),
                            (3, "group"),
                            (4, "version"),
                            (5, "resource"),
                            (6, "subresource"),
                            (7, "name"),
                        ],
                    )?;
                    spec.insert("resourceAttributes".into(), attrs);
                }
                2 => {
                    let attrs = strings(message(&sf), &[(1, "path"), (2, "verb")])?;
                    spec.insert("nonResourceAttributes".into(), attrs);
                }
                _ => {}
            }
        }
    }
    Some(
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": {}, "spec": spec}),
    )
}

/// Decodes a protobuf request body into JSON, or says why it cannot.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    // The apiserver takes protobuf for built-in kinds; the simulator decodes only the
    // reviews and otherwise asks for JSON.
    let unsupported = || ApiError::unsupported_media(&["application/json"]);
    let malformed = || ApiError::bad_request("the protobuf request body is malformed");
    let rest = body.strip_prefix(MAGIC).ok_or_else(malformed)?;
    let envelope = fields(rest).ok_or_else(malformed)?;
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (num, f) in &envelope {
        match num {
            1 => {
                for (tnum, tf) in fields(message(f)).ok_or_else(malformed)? {
                    if tnum == 2 {
                        kind = string(&tf).unwrap_or_default();
                    }
                }
            }
            2 => raw = message(f),
            _ => {}
        }
    }
    let decoded = match kind.as_str() {
        "Eviction" => eviction(raw),
        "SelfSubjectAccessReview" => access_review(raw),
        // `kubectl auth can-i --list`: only the namespace matters, and the answer is the
        // same for every namespace here.
        "SelfSubjectRulesReview" => Some(
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "metadata": {}, "spec": {}}),
        ),
        "SelfSubjectReview" => Some(
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}}),
        ),
        "DeleteOptions" => delete_options(raw),
        "ConfigMap" => config_map(raw),
        "Secret" => secret(raw),
        _ => return Err(unsupported()),
    };
    decoded.ok_or_else(malformed)
}

fn encode_varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn encode_bytes(num: u64, b: &[u8], out: &mut Vec<u8>) {
    encode_varint((num << 3) | 2, out);
    encode_varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

/// An OpenAPI v2 document with no paths or definitions, in the gnostic protobuf
/// encoding kubectl downloads before it validates a manifest (Document: swagger = 1,
/// info = 2 {title = 1, version = 2}). With no schemas, kubectl validates nothing on
/// its side, as for custom resources that publish none.
pub fn empty_openapi_v2(version: &str) -> Vec<u8> {
    let mut info = Vec::new();
    encode_bytes(1, b"Kubernetes", &mut info);
    encode_bytes(2, version.as_bytes(), &mut info);
    let mut doc = Vec::new();
    encode_bytes(1, b"2.0", &mut doc);
    encode_bytes(2, &info, &mut doc);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(num: u64, wire: u64) -> Vec<u8> {
        enc_varint((num << 3) | wire)
    }

    fn enc_varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes(num: u64, b: &[u8]) -> Vec<u8> {
        [tag(num, 2), enc_varint(b.len() as u64), b.to_vec()].concat()
    }

    fn envelope(kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [bytes(1, b"policy/v1"), bytes(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), bytes(1, &type_meta), bytes(2, raw)].concat()
    }

    #[test]
    fn eviction_with_grace_period_decodes() {
        let meta = [bytes(1, b"web-1"), bytes(3, b"prod")].concat();
        let opts = [tag(1, 0), enc_varint(30)].concat();
        let body = envelope("Eviction", &[bytes(1, &meta), bytes(2, &opts)].concat());
        let v = decode(&body).unwrap();
        assert_eq!(v["metadata"]["name"], "web-1");
        assert_eq!(v["metadata"]["namespace"], "prod");
        assert_eq!(v["deleteOptions"]["gracePeriodSeconds"], 30);
    }

    #[test]
    fn access_review_decodes_resource_attributes() {
        let attrs = [bytes(2, b"patch"), bytes(5, b"nodes")].concat();
        let spec = bytes(1, &attrs);
        let body = envelope("SelfSubjectAccessReview", &bytes(2, &spec));
        let v = decode(&body).unwrap();
        assert_eq!(
            v["spec"]["resourceAttributes"],
            json!({"verb": "patch", "resource": "nodes"})
        );
    }

    #[test]
    fn openapi_document_round_trips_through_the_decoder() {
        let doc = empty_openapi_v2("v1.33.4");
        let f = fields(&doc).unwrap();
        assert_eq!(string(&f[0].1).as_deref(), Some("2.0"));
        let info = fields(message(&f[1].1)).unwrap();
        assert_eq!(string(&info[1].1).as_deref(), Some("v1.33.4"));
    }

    #[test]
    fn other_kinds_are_unsupported_and_garbage_is_malformed() {
        assert_eq!(decode(&envelope("Deployment", b"")).unwrap_err().code, 415);
        assert_eq!(decode(b"k8s\0\xff\xff").unwrap_err().code, 400);
        assert_eq!(decode(b"{}").unwrap_err().code, 400);
    }
}
