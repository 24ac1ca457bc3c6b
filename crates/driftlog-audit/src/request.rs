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

/// A stored Kubernetes audit event's request object and the `fieldManager` its request URI
/// names (native, EKS and AKS events are stored bare; GKE's in a `protoPayload`).
pub fn kubernetes_request(raw: &[u8]) -> driftlog_core::attribution::kubernetes::Request {
    let Ok(record) = serde_json::from_slice::<Value>(raw) else {
        return Default::default();
    };
    let field_manager = record
        .get("requestURI")
        .and_then(Value::as_str)
        .and_then(|uri| uri.split_once('?'))
        .and_then(|(_, query)| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix("fieldManager="))
                .map(|m| m.replace("%2F", "/").replace("%3A", ":"))
        });
    driftlog_core::attribution::kubernetes::Request {
        body: from_record(&record),
        field_manager,
    }
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

    #[test]
    fn kubernetes_requests() {
        let raw = br#"{"kind":"Event","requestURI":"/apis/apps/v1/namespaces/p/deployments/web?fieldManager=kubectl-edit&fieldValidation=Strict","requestObject":{"spec":{"replicas":3}}}"#;
        let r = kubernetes_request(raw);
        assert_eq!(r.field_manager.as_deref(), Some("kubectl-edit"));
        assert_eq!(r.body.unwrap()["spec"]["replicas"], 3);
        assert!(kubernetes_request(b"{").body.is_none());
    }
}
