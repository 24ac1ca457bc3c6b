//! The request body inside a stored raw record, whatever envelope it came in: what the caller
//! asked to set, for attribution to compare with the live value.

use serde_json::Value;

/// CloudTrail `requestParameters` (bare, under EventBridge `detail`, or inside `lookup-events`'
/// `CloudTrailEvent` string), Kubernetes `requestObject`, GCP `protoPayload.request`.
pub fn request_body(raw: &[u8]) -> Option<Value> {
    let record: Value = serde_json::from_slice(raw).ok()?;
    from_record(&record)
}

fn from_record(record: &Value) -> Option<Value> {
    if let Some(p) = record.get("requestParameters") {
        return Some(p.clone());
    }
    if let Some(detail) = record.get("detail") {
        return from_record(detail);
    }
    if let Some(Value::String(inner)) = record.get("CloudTrailEvent") {
        return from_record(&serde_json::from_str(inner).ok()?);
    }
    if let Some(object) = record.get("requestObject") {
        return Some(object.clone());
    }
    record.get("protoPayload")?.get("request").cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_envelope() {
        let bare = br#"{"eventID":"e","requestParameters":{"groupId":"sg-1"}}"#;
        assert_eq!(request_body(bare).unwrap()["groupId"], "sg-1");
        let bridge = br#"{"detail-type":"AWS API Call via CloudTrail","detail":{"requestParameters":{"groupId":"sg-2"}}}"#;
        assert_eq!(request_body(bridge).unwrap()["groupId"], "sg-2");
        let lookup = br#"{"CloudTrailEvent":"{\"requestParameters\":{\"groupId\":\"sg-3\"}}"}"#;
        assert_eq!(request_body(lookup).unwrap()["groupId"], "sg-3");
        let gcp = br#"{"protoPayload":{"request":{"name":"n"}}}"#;
        assert_eq!(request_body(gcp).unwrap()["name"], "n");
        assert_eq!(request_body(b"not json"), None);
    }
}
