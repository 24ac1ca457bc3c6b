//! Signed checkpoints in the C2SP formats, so any tool that reads Go's checksum database or a
//! Certificate Transparency tile log can check driftlog's:
//!
//! - `c2sp.org/signed-note`: a text, a blank line, and signature lines
//!   `— <name> <base64(key id ‖ signature)>`; Ed25519 keys; the key id is the first four bytes
//!   of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`; keys are written
//!   `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>` and `<name>+<hex id>+<base64(0x01 ‖ key)>`.
//! - `c2sp.org/tlog-checkpoint`: the text is `<origin>\n<tree size>\n<base64 root>\n`.

use crate::merkle::Hash;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

const ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    Key(String),
    #[error("malformed note: {0}")]
    Note(String),
    #[error("no valid signature by {0} on this note")]
    Unsigned(String),
    #[error("malformed checkpoint: {0}")]
    Checkpoint(String),
    #[error("cannot generate a key: {0}")]
    Random(String),
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['+']) && !name.chars().any(char::is_whitespace)
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn hex4(id: &[u8; 4]) -> String {
    hex::encode(id)
}

/// `name`, `hex id`, decoded `0x01 ‖ 32 bytes` of a key string's last three fields.
fn key_fields<'a>(fields: &[&'a str]) -> Result<(&'a str, [u8; 4], [u8; 32]), NoteError> {
    let [name, id, data] = fields else {
        return Err(NoteError::Key("expected NAME+ID+DATA".into()));
    };
    if !valid_name(name) {
        return Err(NoteError::Key(format!("invalid name {name:?}")));
    }
    let id = u32::from_str_radix(id, 16)
        .ok()
        .filter(|_| id.len() == 8)
        .ok_or_else(|| NoteError::Key(format!("key id {id:?} is not 8 hex digits")))?
        .to_be_bytes();
    let data = B64
        .decode(data)
        .map_err(|e| NoteError::Key(format!("key data is not base64: {e}")))?;
    if data.len() != 33 || data[0] != ED25519 {
        return Err(NoteError::Key(
            "key data is not an Ed25519 key (0x01 and 32 bytes)".into(),
        ));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&data[1..]);
    Ok((name, id, key))
}

/// A verifier key: who signs, and the public key to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    id: [u8; 4],
    public: VerifyingKey,
}

impl VerifierKey {
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let fields: Vec<&str> = text.trim().splitn(3, '+').collect();
        let (name, id, key) = key_fields(&fields)?;
        if key_id(name, &key) != id {
            return Err(NoteError::Key("key id does not match the key".into()));
        }
        let public = VerifyingKey::from_bytes(&key)
            .map_err(|e| NoteError::Key(format!("not an Ed25519 public key: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            id,
            public,
        })
    }

    pub fn to_text(&self) -> String {
        let mut data = vec![ED25519];
        data.extend_from_slice(self.public.as_bytes());
        format!("{}+{}+{}", self.name, hex4(&self.id), B64.encode(data))
    }

    /// Check a signed note and return its text (what was signed).
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let (text, signatures) = split(note)?;
        for line in signatures.lines() {
            let Some(rest) = line.strip_prefix(DASH) else {
                return Err(NoteError::Note(format!("bad signature line {line:?}")));
            };
            let Some((name, sig)) = rest.split_once(' ') else {
                return Err(NoteError::Note(format!("bad signature line {line:?}")));
            };
            if name != self.name {
                continue;
            }
            let Ok(sig) = B64.decode(sig) else {
                continue;
            };
            if sig.len() != 68 || sig[..4] != self.id {
                continue;
            }
            let Ok(sig) = ed25519_dalek::Signature::from_slice(&sig[4..]) else {
                continue;
            };
            if self.public.verify(text.as_bytes(), &sig).is_ok() {
                return Ok(text);
            }
        }
        Err(NoteError::Unsigned(self.name.clone()))
    }
}

/// The text (ending in a newline) and the signature block of a note.
fn split(note: &str) -> Result<(&str, &str), NoteError> {
    let Some(at) = note.rfind("\n\n") else {
        return Err(NoteError::Note(
            "no blank line before the signatures".into(),
        ));
    };
    let (text, signatures) = (&note[..at + 1], &note[at + 2..]);
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(NoteError::Note("signatures must end with a newline".into()));
    }
    Ok((text, signatures))
}

/// A signer key: the private half.
pub struct SignerKey {
    pub name: String,
    id: [u8; 4],
    signing: SigningKey,
}

impl SignerKey {
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let text = text.trim();
        let Some(rest) = text.strip_prefix("PRIVATE+KEY+") else {
            return Err(NoteError::Key(
                "a signer key starts with PRIVATE+KEY+".into(),
            ));
        };
        let fields: Vec<&str> = rest.splitn(3, '+').collect();
        let (name, id, seed) = key_fields(&fields)?;
        let signing = SigningKey::from_bytes(&seed);
        if key_id(name, signing.verifying_key().as_bytes()) != id {
            return Err(NoteError::Key("key id does not match the key".into()));
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            signing,
        })
    }

    /// A new random key (from the operating system's generator).
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::Key(format!(
                "invalid name {name:?}: no spaces or '+'"
            )));
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::Random(e.to_string()))?;
        let signing = SigningKey::from_bytes(&seed);
        let id = key_id(name, signing.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            id,
            signing,
        })
    }

    pub fn to_text(&self) -> String {
        let mut data = vec![ED25519];
        data.extend_from_slice(self.signing.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex4(&self.id),
            B64.encode(data)
        )
    }

    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            public: self.signing.verifying_key(),
        }
    }

    /// Sign `text` (which must end with a newline) into a note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') || text.contains("\n\n") {
            return Err(NoteError::Note(
                "a note's text ends with one newline and has no blank line".into(),
            ));
        }
        let sig = self.signing.sign(text.as_bytes());
        let mut data = self.id.to_vec();
        data.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n{DASH}{} {}\n",
            self.name,
            B64.encode(data)
        ))
    }
}

/// A checkpoint's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parse a checkpoint's text (extension lines after the root are allowed and ignored).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut lines = text.lines();
        let bad = |what: &str| NoteError::Checkpoint(what.to_owned());
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size = lines
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad("the second line is not a decimal tree size"))?;
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .filter(|r| r.len() == 32)
            .ok_or_else(|| bad("the third line is not a base64 SHA-256 root"))?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&root);
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root: hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of golang.org/x/mod/sumdb/note, the reference implementation.
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn reference_vectors_byte_for_byte() {
        let signer = SignerKey::parse(SKEY).unwrap();
        assert_eq!(signer.to_text(), SKEY);
        assert_eq!(signer.verifier().to_text(), VKEY);
        let note = signer.sign(TEXT).unwrap();
        assert_eq!(note, format!("{TEXT}\n{SIG}"));
        let verifier = VerifierKey::parse(VKEY).unwrap();
        assert_eq!(verifier.open(&note).unwrap(), TEXT);
    }

    #[test]
    fn the_c2sp_specification_example_verifies() {
        let verifier = VerifierKey::parse(
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        )
        .unwrap();
        let note = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
        assert_eq!(
            verifier.open(note).unwrap(),
            "This is an example message.\n"
        );
    }

    #[test]
    fn tampered_notes_and_keys_are_refused() {
        let signer = SignerKey::parse(SKEY).unwrap();
        let verifier = signer.verifier();
        let note = signer.sign(TEXT).unwrap();
        let changed_text = note.replacen("problem", "pr0blem", 1);
        assert!(verifier.open(&changed_text).is_err());
        let changed_sig = note.replace("x08go", "x08gp");
        assert!(verifier.open(&changed_sig).is_err());
        let other = SignerKey::generate("PeterNeumann").unwrap();
        assert!(other.verifier().open(&note).is_err());
        assert!(VerifierKey::parse(&VKEY.replace("c74f20a3", "c74f20a4")).is_err());
        assert!(SignerKey::parse("PRIVATE+KEY+bad name+00000000+AA==").is_err());
    }

    #[test]
    fn checkpoints_round_trip() {
        let c = Checkpoint {
            origin: "driftlog.example/ledger".into(),
            size: 42,
            root: [7; 32],
        };
        assert_eq!(Checkpoint::parse(&c.text()).unwrap(), c);
        assert!(Checkpoint::parse("origin\nforty-two\nAAAA\n").is_err());
        let signer = SignerKey::generate("driftlog.example/ledger").unwrap();
        let note = signer.sign(&c.text()).unwrap();
        let text = signer.verifier().open(&note).unwrap();
        assert_eq!(Checkpoint::parse(text).unwrap(), c);
    }
}
