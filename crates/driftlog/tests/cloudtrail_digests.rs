//! `driftlog cloudtrail verify` on a chain of digests signed in the test with its own RSA key
//! (no AWS-signed digest and its public key are published): an intact chain validates and is
//! recorded in the ledger; a changed log file, a deleted digest, a digest signed with another
//! key and a broken `previousDigestSignature` are each reported precisely, exit 1; a gap alone
//! is reported and is not a failure.

mod common;

use base64::Engine;
use common::{driftlog, run, Run};
use flate2::write::GzEncoder;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const BUCKET: &str = "acme-trail";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap()
}

/// The fingerprint CloudTrail names a key by (hex MD5 of its DER in AWS; any stable id here).
fn fingerprint(k: &RsaPrivateKey) -> String {
    let der = k.to_public_key().to_pkcs1_der().unwrap();
    hex::encode(&Sha256::digest(der.as_bytes())[..16])
}

fn string_to_sign(d: &Value, digest_bytes: &[u8]) -> String {
    format!(
        "{}\n{}/{}\n{}\n{}",
        d["digestEndTime"].as_str().unwrap(),
        d["digestS3Bucket"].as_str().unwrap(),
        d["digestS3Object"].as_str().unwrap(),
        hex::encode(Sha256::digest(digest_bytes)),
        d["previousDigestSignature"].as_str().unwrap_or("null")
    )
}

/// Writes `hours` hourly digests (each over two gzipped log files) into `root` as a local copy
/// of the bucket, signed and chained; returns the digest keys oldest first.
/// A CloudTrail record as the reader stores it.
fn record(id: &str, time: &str) -> Value {
    json!({"eventVersion": "1.08", "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/ops"),
           "accountId": ACCOUNT, "userName": "ops"}, "eventTime": time, "eventSource": "ec2.amazonaws.com",
           "eventName": "DescribeInstances", "awsRegion": REGION, "sourceIPAddress": "203.0.113.1",
           "userAgent": "aws-cli/2.15.0", "requestParameters": null, "responseElements": null, "eventID": id,
           "readOnly": true, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT})
}

fn write_chain(root: &Path, signer: &RsaPrivateKey, hours: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut previous: Option<(String, String)> = None; // (key, signature)
    for h in 0..hours {
        let day = "2026/11/20";
        let stamp = format!("20261120T{:02}30Z", h);
        let mut logs = Vec::new();
        for n in 0..2 {
            let key = format!(
                "AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{day}/{ACCOUNT}_CloudTrail_{REGION}_{stamp}_log{n}.json.gz"
            );
            let body = json!({"Records": [record(&format!("e-{h}-{n}"), &format!("2026-11-20T{:02}:10:00Z", h))]});
            let plain = serde_json::to_vec(&body).unwrap();
            let path = root.join(&key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, gzip(&plain)).unwrap();
            logs.push(json!({"s3Bucket": BUCKET, "s3Object": key, "hashValue": hex::encode(Sha256::digest(&plain)), "hashAlgorithm": "SHA-256"}));
        }
        let key = format!(
            "AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/{day}/{ACCOUNT}_CloudTrail-Digest_{REGION}_trail_{REGION}_{stamp}.json.gz"
        );
        let digest = json!({
            "awsAccountId": ACCOUNT,
            "digestStartTime": format!("2026-11-20T{:02}:30:00Z", h.saturating_sub(1)),
            "digestEndTime": format!("2026-11-20T{:02}:30:00Z", h),
            "digestS3Bucket": BUCKET,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint(signer),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": format!("2026-11-20T{:02}:10:00Z", h),
            "oldestEventTime": format!("2026-11-20T{:02}:10:00Z", h),
            "previousDigestS3Bucket": previous.as_ref().map(|_| BUCKET),
            "previousDigestS3Object": previous.as_ref().map(|p| p.0.clone()),
            "previousDigestHashValue": null,
            "previousDigestHashAlgorithm": "SHA-256",
            "previousDigestSignature": previous.as_ref().map(|p| p.1.clone()),
            "logFiles": logs,
        });
        let signature = sign_digest(root, &key, &digest, signer);
        previous = Some((key.clone(), signature));
        keys.push(key);
    }
    keys
}

/// Write a digest and its `.sig` beside it; returns the signature (hex).
fn sign_digest(root: &Path, key: &str, digest: &Value, signer: &RsaPrivateKey) -> String {
    let bytes = serde_json::to_vec(digest).unwrap();
    let message = string_to_sign(digest, &bytes);
    let signature = hex::encode(
        SigningKey::<Sha256>::new(signer.clone())
            .sign(message.as_bytes())
            .to_bytes(),
    );
    let path = root.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, gzip(&bytes)).unwrap();
    std::fs::write(format!("{}.sig", path.display()), &signature).unwrap();
    signature
}

fn read_digest(root: &Path, key: &str) -> Value {
    let gz = std::fs::read(root.join(key)).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut plain)
        .unwrap();
    serde_json::from_slice(&plain).unwrap()
}

fn keys_file(dir: &Path, keys: &[&RsaPrivateKey]) -> std::path::PathBuf {
    let list: Vec<Value> = keys
        .iter()
        .map(|k| {
            let der = k.to_public_key().to_pkcs1_der().unwrap();
            json!({
                "Value": base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
                "ValidityStartTime": "2026-11-01T00:00:00Z",
                "ValidityEndTime": "2026-12-01T00:00:00Z",
                "Fingerprint": fingerprint(k),
            })
        })
        .collect();
    let path = dir.join("keys.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&json!({"PublicKeyList": list})).unwrap(),
    )
    .unwrap();
    path
}

fn verify(root: &Path, keys: &Path, ledger: &Path) -> Run {
    run(driftlog()
        .arg("--ledger")
        .arg(ledger)
        .args(["cloudtrail", "verify"])
        .arg(root)
        .arg("--public-keys")
        .arg(keys))
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, dest).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn digest_chains_validate_and_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let intact = dir.path().join("intact");
    let digests = write_chain(&intact, &signer, 6);
    let keys = keys_file(dir.path(), &[&signer]);
    let ledger = dir.path().join("ledger.db");

    let ok = verify(&intact, &keys, &ledger);
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout
            .contains("123456789012 eu-west-1: 6 of 6 digests valid"),
        "{}",
        ok.stdout
    );
    assert!(ok.stdout.contains("12 log files intact"), "{}", ok.stdout);
    assert!(
        ok.stdout.contains("6 newly recorded in the ledger"),
        "{}",
        ok.stdout
    );
    // The chain of custody continues in the ledger, once per digest.
    let again = verify(&intact, &keys, &ledger);
    assert!(
        again.stdout.contains("0 newly recorded"),
        "{}",
        again.stdout
    );
    let shown = run(driftlog()
        .arg("--ledger")
        .arg(&ledger)
        .args(["ledger", "show", "--json"]));
    let kinds: Vec<Value> = shown
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|e| e["kind"] == "cloudtrail-digest")
            .count(),
        6
    );
    assert!(kinds
        .iter()
        .all(|e| e["valid"] == true && e["sha256"].as_str().unwrap().len() == 64));

    let case = |name: &str, tamper: &dyn Fn(&Path)| -> Run {
        let root = dir.path().join(name);
        copy_tree(&intact, &root);
        tamper(&root);
        verify(&root, &keys, &dir.path().join(format!("{name}.db")))
    };

    // A log file changed after delivery.
    let log = read_digest(&intact, &digests[2])["logFiles"][1]["s3Object"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = case("changed-log", &|root| {
        std::fs::write(root.join(&log), gzip(b"{\"Records\": []}")).unwrap();
    });
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("INVALID 2026-11-20T02:30:00Z {}", digests[2]))
            && r.stdout.contains(&format!("{log}: altered: SHA-256")),
        "{}",
        r.stdout
    );

    // A digest deleted from the middle of the chain.
    let r = case("deleted-digest", &|root| {
        std::fs::remove_file(root.join(&digests[3])).unwrap();
    });
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "MISSING before {}: s3://acme-trail/{}",
            digests[4], digests[3]
        )),
        "{}",
        r.stdout
    );

    // A digest re-signed with a key that is not CloudTrail's.
    let other = key();
    let r = case("other-key", &|root| {
        let mut d = read_digest(root, &digests[1]);
        d["logFiles"] = json!([]);
        sign_digest(root, &digests[1], &d, &other);
    });
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "INVALID 2026-11-20T01:30:00Z {}: signature does not verify",
            digests[1]
        )),
        "{}",
        r.stdout
    );

    // A digest whose previousDigestSignature is not its predecessor's, signed correctly: the
    // chain, not the signature, is what breaks.
    let r = case("broken-chain", &|root| {
        let mut d = read_digest(root, &digests[4]);
        d["previousDigestSignature"] = json!("00ff");
        sign_digest(root, &digests[4], &d, &signer);
    });
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "INVALID 2026-11-20T04:30:00Z {}: previousDigestSignature does not match",
            digests[4]
        )),
        "{}",
        r.stdout
    );

    // Validation switched off for an hour: a gap, reported, not a failure.
    let r = case("gap", &|root| {
        let mut d = read_digest(root, &digests[3]);
        d["previousDigestS3Bucket"] = Value::Null;
        d["previousDigestS3Object"] = Value::Null;
        d["previousDigestSignature"] = Value::Null;
        let sig = sign_digest(root, &digests[3], &d, &signer);
        // The next digest chains to the re-signed one.
        let mut next = read_digest(root, &digests[4]);
        next["previousDigestSignature"] = json!(sig);
        let sig = sign_digest(root, &digests[4], &next, &signer);
        let mut last = read_digest(root, &digests[5]);
        last["previousDigestSignature"] = json!(sig);
        sign_digest(root, &digests[5], &last, &signer);
    });
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("GAP     before {}", digests[3])),
        "{}",
        r.stdout
    );

    // A missing signature and an unknown key are invalid, never silently valid.
    let r = case("no-sig", &|root| {
        std::fs::remove_file(format!("{}.sig", root.join(&digests[0]).display())).unwrap();
    });
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("no signature"), "{}", r.stdout);
}

/// The same chain in S3 (moto), each digest's signature in its object metadata as CloudTrail
/// writes it: valid; a log file overwritten in the bucket: named.
#[test]
fn digest_chains_in_s3_validate_from_object_metadata() {
    let Some(moto) = common::moto::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let copy = dir.path().join("copy");
    let digests = write_chain(&copy, &signer, 5);
    let keys = keys_file(dir.path(), &[&signer]);
    // Upload: logs as they are, digests with their signature as metadata (not as .sig files).
    moto.python(&format!(
        "import os\n\
         root = {root:?}\n\
         s3.create_bucket(Bucket='{BUCKET}')\n\
         for d, _, files in os.walk(root):\n\
         \x20   for f in files:\n\
         \x20       path = os.path.join(d, f)\n\
         \x20       key = os.path.relpath(path, root)\n\
         \x20       if key.endswith('.sig'):\n\
         \x20           continue\n\
         \x20       extra = {{}}\n\
         \x20       if os.path.exists(path + '.sig'):\n\
         \x20           extra = {{'Metadata': {{'signature': open(path + '.sig').read(), 'signature-algorithm': 'SHA256withRSA'}}}}\n\
         \x20       s3.put_object(Bucket='{BUCKET}', Key=key, Body=open(path, 'rb').read(), **extra)\n",
        root = copy.display().to_string()
    ));
    let verify_s3 = |ledger: &str| {
        run(common::moto::aws_env(&mut driftlog())
            .arg("--ledger")
            .arg(dir.path().join(ledger))
            .args(["--endpoint-url", &moto.endpoint, "cloudtrail", "verify"])
            .arg(format!("s3://{BUCKET}/AWSLogs/"))
            .arg("--public-keys")
            .arg(&keys))
    };
    let ok = verify_s3("a.db");
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout
            .contains("123456789012 eu-west-1: 5 of 5 digests valid"),
        "{}",
        ok.stdout
    );
    // Online: the keys come from CloudTrail's ListPublicKeys (a stub on loopback, since moto
    // lacks it), asked once, in the digests' region, from the first digest's time.
    let stub = common::proxy::Proxy::start_with(&moto, 0.0, "", 0, Some(&keys));
    let online = run(common::moto::aws_env(&mut driftlog())
        .arg("--ledger")
        .arg(dir.path().join("online.db"))
        .args(["--endpoint-url", &stub.endpoint, "cloudtrail", "verify"])
        .arg(format!("s3://{BUCKET}/AWSLogs/")));
    assert_eq!(online.code, 0, "{}\n{}", online.stdout, online.stderr);
    assert!(
        online.stdout.contains("5 of 5 digests valid"),
        "{}",
        online.stdout
    );
    let asked = stub.stats()["list_public_keys"].clone();
    assert_eq!(asked.as_array().unwrap().len(), 1, "{asked}");
    assert_eq!(asked[0]["region"], "eu-west-1", "{asked}");

    let log = read_digest(&copy, &digests[1])["logFiles"][0]["s3Object"]
        .as_str()
        .unwrap()
        .to_owned();
    moto.python(&format!(
        "import gzip\ns3.put_object(Bucket='{BUCKET}', Key={log:?}, Body=gzip.compress(b'{{\"Records\": []}}'))\n"
    ));
    let bad = verify_s3("b.db");
    assert_eq!(bad.code, 1, "{}", bad.stdout);
    assert!(
        bad.stdout.contains(&format!("{log}: altered")),
        "{}",
        bad.stdout
    );
}

/// `ingest --verify-digests`: a log file its digest says was altered is refused (named, exit
/// 1, none of its events stored); a file no digest covers yet is stored and counted.
#[test]
fn ingest_refuses_log_files_their_digest_says_were_altered() {
    let dir = tempfile::tempdir().unwrap();
    let signer = key();
    let copy = dir.path().join("copy");
    let digests = write_chain(&copy, &signer, 3);
    let keys = keys_file(dir.path(), &[&signer]);
    let altered = read_digest(&copy, &digests[1])["logFiles"][0]["s3Object"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = json!({"Records": [record("forged", "2026-11-20T01:10:00Z")]});
    std::fs::write(
        copy.join(&altered),
        gzip(&serde_json::to_vec(&forged).unwrap()),
    )
    .unwrap();
    let fresh = format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/20/{ACCOUNT}_CloudTrail_{REGION}_20261120T0530Z_log0.json.gz"
    );
    let body = json!({"Records": [record("fresh", "2026-11-20T05:10:00Z")]});
    std::fs::write(copy.join(&fresh), gzip(&serde_json::to_vec(&body).unwrap())).unwrap();
    let store = dir.path().join("events.db");
    let r = run(driftlog()
        .args(["--ledger", "off", "--store"])
        .arg(&store)
        .arg("ingest")
        .arg(copy.join("AWSLogs"))
        .args(["--verify-digests", "--public-keys"])
        .arg(&keys)
        .args(["-f", "json"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("refused (--verify-digests): altered"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(&altered), "{}", r.stderr);
    let summary: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["files"]["refused"], 1, "{summary}");
    assert_eq!(summary["files"]["unverified"], 1, "{summary}");
    assert_eq!(summary["events"]["inserted"], 6, "{summary}");
    let events = run(driftlog()
        .arg("--store")
        .arg(&store)
        .args(["events", "--format", "json"]));
    assert!(!events.stdout.contains("\"forged\""), "{}", events.stdout);
    assert!(events.stdout.contains("\"fresh\""), "{}", events.stdout);
}
