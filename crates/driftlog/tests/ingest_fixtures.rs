//! Issue 3: every real audit log in `../shared/fixtures` ingests, and specific real events come
//! out normalized as they should (principal, actor kind and its rule, resources, outcome).

mod common;

use common::{audit_data, fixtures, TempStore};
use serde_json::Value;

fn ingest_folder(store: &TempStore, folder: &str) -> Option<Value> {
    let dir = fixtures()?.join(folder);
    let r = store.ingest(&[&dir, "--format".as_ref(), "json".as_ref()]);
    assert!(
        r.code == 0,
        "ingest {folder} failed ({}): {}",
        r.code,
        r.stderr
    );
    Some(common::json(&r))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn cloudtrail_records_envelopes_and_gzip() {
    let store = TempStore::new();
    let Some(summary) = ingest_folder(&store, "aws-cloudtrail") else {
        return;
    };
    // 66 single-record files, one gzip delivery file with 2 records, one `Records` file with 3;
    // two of the latter repeat the gzip file's records and one stackstate record repeats
    // another's event id: 71 read, 68 distinct.
    assert_eq!(summary["files"]["read"], 68);
    assert_eq!(
        summary["files"]["not_logs"], 1,
        "PROVENANCE.md is not a log"
    );
    assert_eq!(summary["events"]["read"], 71);
    assert_eq!(summary["events"]["inserted"], 68);
    assert_eq!(summary["events"]["duplicates"], 3);

    // Root, in the SQS console: the console's backend calls with an `aws-internal/3` agent.
    let root = store.event("9af6b06b-c0c8-4f8d-864a-ba441f5c606f");
    assert_eq!(root["action"], "CreateQueue");
    assert_eq!(root["principal"]["id"], "arn:aws:iam::731070500579:root");
    assert_eq!(root["principal"]["type"], "Root");
    assert_eq!(root["actor"]["kind"], "console");
    assert_eq!(root["actor"]["rule"], "userAgent:aws-internal (hint)");
    assert!(strs(&root["resources"])
        .contains(&"https://sqs.eu-west-1.amazonaws.com/731070500579/STS_stackpack_test"));

    // An assumed role in the EC2 console (user agent hint), MFA on.
    let modify = store.event("959000f3-fd40-439a-a4e7-c426b9c9f63b");
    assert_eq!(
        modify["principal"]["id"],
        "arn:aws:sts::548105126730:assumed-role/Administrator/user"
    );
    assert_eq!(
        modify["principal"]["issuer"],
        "arn:aws:iam::548105126730:role/Administrator"
    );
    assert_eq!(modify["principal"]["session_name"], "user");
    assert_eq!(modify["principal"]["mfa"], true);
    assert_eq!(modify["actor"]["kind"], "console");
    assert_eq!(modify["actor"]["rule"], "userAgent:console (hint)");
    assert_eq!(strs(&modify["resources"]), ["i-1234567890123456"]);
    assert_eq!(modify["read_only"], false);

    // An error event: the error code is the outcome.
    let error = store.event("76e006b5-8a04-43d2-a920-0ca545070d63");
    assert_eq!(error["outcome"]["result"], "failure");
    assert_eq!(error["outcome"]["code"], "InvalidArgumentException");

    // CloudFormation acting for a user (invokedBy, a fact, not a hint).
    let cfn = store.event("7b8e446a-f282-49d4-ab7e-ea901bab98f4");
    assert_eq!(cfn["actor"]["kind"], "cloudformation");
    assert_eq!(
        cfn["actor"]["rule"],
        "invokedBy:cloudformation.amazonaws.com"
    );
    assert_eq!(
        cfn["principal"]["invoked_by"],
        "cloudformation.amazonaws.com"
    );

    // The console as older trails mark it.
    let run = store.event("007a1b8d-0644-4d1e-a051-0b403269a28e");
    assert_eq!(run["action"], "RunInstances");
    assert_eq!(run["actor"]["rule"], "invokedBy:signin.amazonaws.com");
    assert!(strs(&run["resources"]).contains(&"sg-529e4f2f"));

    // A service acting on its own, from the gzip delivery file.
    let assume = store.event("b25ff7e3-f1cf-4b7f-883d-b09168c454d5");
    assert_eq!(assume["principal"]["type"], "AWSService");
    assert_eq!(assume["principal"]["id"], "config.amazonaws.com");
    assert_eq!(assume["actor"]["kind"], "service");

    // A read is a read.
    let describe = store.event("a0ed971f-389f-406a-9fcf-887c5ca6903a");
    assert_eq!(describe["read_only"], true);

    // Lookups by resource: an id, an ARN, and the name inside an ARN.
    let by_id = store.events(&["--resource", "i-1234567890123456"]);
    assert!(by_id
        .iter()
        .any(|e| e["event_id"] == "959000f3-fd40-439a-a4e7-c426b9c9f63b"));
    let by_arn = store.events(&[
        "--resource",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/table_2",
    ]);
    let by_name = store.events(&["--resource", "table_2"]);
    assert_eq!(by_arn.len(), 2, "TagResource and UntagResource");
    assert_eq!(by_arn, by_name);
}

#[test]
fn eventbridge_envelopes_including_concatenated_gzip() {
    let store = TempStore::new();
    let Some(summary) = ingest_folder(&store, "aws-cloudtrail-eventbridge") else {
        return;
    };
    // The gzip object holds two EventBridge events back to back, as Firehose writes them.
    assert_eq!(summary["events"]["inserted"], 3);
    let sg = store.event("4667ddb7-6e53-4965-bf69-e7ee16ca3b07");
    assert_eq!(sg["action"], "AuthorizeSecurityGroupIngress");
    assert_eq!(sg["actor"]["kind"], "console");
    assert_eq!(sg["actor"]["rule"], "sessionCredentialFromConsole");
    assert_eq!(
        sg["principal"]["id"],
        "arn:aws:sts::672574731473:assumed-role/Administrator/hruhek"
    );
    assert_eq!(sg["principal"]["session_name"], "hruhek");
    assert_eq!(
        strs(&sg["resources"]),
        ["sg-033d49addc8e52b58", "sgr-06f55273da0e4a172"]
    );
    let cfn = store.event("0ad446db-fc26-4e2d-a0d5-09a4a695b711");
    assert_eq!(cfn["actor"]["kind"], "cloudformation");

    // Writes to the group, and nothing else, come back for the group id.
    let writes = store.events(&["--resource", "sg-033d49addc8e52b58", "--writes-only"]);
    assert_eq!(writes.len(), 1);
}

#[test]
fn kubernetes_audit_logs() {
    let store = TempStore::new();
    let Some(summary) = ingest_folder(&store, "k8s-audit") else {
        return;
    };
    assert_eq!(summary["events"]["inserted"], 77);

    // Impersonation and a 403.
    let denied = store.event("033d17af-082d-4b24-aa22-627752e83d71");
    assert_eq!(denied["principal"]["id"], "system:admin");
    assert_eq!(denied["principal"]["on_behalf_of"], "bob");
    assert_eq!(denied["action"], "list pods");
    assert_eq!(denied["outcome"]["code"], "Forbidden");
    assert_eq!(denied["read_only"], true);

    // A ClusterRoleBinding to cluster-admin, from a line without `apiVersion` (falco trace).
    let binding = store.event("c97244c7-4aec-4714-946a-8204d00ecdca");
    assert_eq!(binding["principal"]["id"], "minikube-user");
    assert_eq!(binding["action"], "create clusterrolebindings");
    assert_eq!(binding["service"], "rbac.authorization.k8s.io");
    assert_eq!(binding["read_only"], false);
    assert!(strs(&binding["resources"]).contains(&"clusterrolebindings/some-reader-binding"));

    // A controller is a service.
    let controller = store.events(&[
        "--principal",
        "system:serviceaccount:kube-system:replicaset-controller",
        "--limit",
        "1",
    ]);
    assert_eq!(controller[0]["actor"]["kind"], "service");

    // The v1beta1 line.
    let anonymous = store.events(&["--principal", "system:anonymous"]);
    assert_eq!(anonymous.len(), 1);
    assert_eq!(anonymous[0]["action"], "create namespaces");
    assert!(strs(&anonymous[0]["resources"]).contains(&"namespaces/foo"));
}

#[test]
fn gcp_audit_logs() {
    let store = TempStore::new();
    let Some(summary) = ingest_folder(&store, "gcp-audit") else {
        return;
    };
    assert_eq!(summary["events"]["inserted"], 9);
    assert_eq!(
        summary["records"]["ignored"], 2,
        "the two non-audit `testlog` entries are skipped, not errors"
    );

    let delegated = store.event("-duywnve29mpi");
    assert_eq!(delegated["action"], "beta.compute.instances.insert");
    assert_eq!(
        delegated["principal"]["id"],
        "fake-account@fake-project.com"
    );
    assert_eq!(
        delegated["principal"]["on_behalf_of"],
        "service-account-one@fake-project.com -> service-account-two@fake-project.com"
    );
    assert_eq!(delegated["actor"]["kind"], "cli");
    assert!(strs(&delegated["resources"])
        .contains(&"projects/1234567890/zones/us-central1-b/instances/fake-compute-instance"));

    let denied = store.event("1awjxggeaxqgz");
    assert_eq!(denied["outcome"]["code"], "PERMISSION_DENIED");
    assert_eq!(denied["principal"]["type"], "serviceAccount");
    assert_eq!(denied["actor"]["kind"], "service");
    assert_eq!(denied["account"], "ketchup");

    let network = store.events(&["--resource", "projects/fake-project/global/networks/test"]);
    assert_eq!(network.len(), 2, "both log entries of the insert operation");
}

#[test]
fn azure_activity_log() {
    let store = TempStore::new();
    let Some(summary) = ingest_folder(&store, "azure-activity") else {
        return;
    };
    assert_eq!(summary["events"]["inserted"], 4);
    let vm = store.event("648230f9-fba4-4def-8a83-118b158b748a");
    assert_eq!(vm["action"], "Microsoft.Compute/virtualMachines/delete");
    assert_eq!(vm["principal"]["id"], "fakeemail@fakedomain.com");
    assert_eq!(vm["principal"]["type"], "user");
    assert_eq!(vm["account"], "12345678-9abc-defg-hijk-lmnopqrstuvw");
    assert_eq!(vm["source_ip"], "1.2.3.4");
    assert_eq!(vm["outcome"]["result"], "unknown", "status `Started`");
    let app = store.event("587eda65-125e-48c2-9b04-ab5e8d3a1d8e");
    assert_eq!(app["principal"]["type"], "app");
    assert_eq!(app["actor"]["rule"], "claims.idtyp:app (service principal)");
    // Resource ids match whatever their letter case.
    let disk = store.events(&["--resource", "/subscriptions/12345678-9abc-defg-hijk-lmnopqrstuvw/resourceGroups/TEST-RESOURCE-GROUP/providers/Microsoft.Compute/disks/test-vm_disk1_cd8883de78cb4cda97cb858dfe0cda3a"]);
    assert_eq!(disk.len(), 2, "write and delete of the disk");
}

#[test]
fn streamalert_placeholders_are_rejected_one_by_one() {
    let Some(dir) = fixtures().map(|f| f.join("aws-cloudtrail-streamalert-testevents")) else {
        return;
    };
    let store = TempStore::new();
    let r = store.ingest(&[&dir, "--format".as_ref(), "json".as_ref()]);
    assert_eq!(r.code, 1, "placeholders are problems: {}", r.stderr);
    let summary = common::json(&r);
    assert_eq!(summary["records"]["rejected"], 32);
    assert_eq!(summary["events"]["read"], 12);
    // Eight of the valid test cases are one event (same sanitized event id, same time); a ninth
    // reuses the id two years later, so it is another event.
    assert_eq!(summary["events"]["inserted"], 5);
    assert!(!r.stderr.contains("panicked"));
    assert!(
        r.stderr.contains(
            "streamalert__cloudtrail_aws_config.json:line 5 ([0].data.Records[0]): skipped record: \
             `eventID` holds a placeholder (\"...\"), not a real value"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("streamalert__cloudtrail_insights.json:line 5 ([0].data.Records[0]): skipped record: missing required field `eventName`"), "{}", r.stderr);
    assert!(
        r.stderr.contains("a field has the wrong type"),
        "{}",
        r.stderr
    );
    // The valid ones are there, and a second run reports the same problems again.
    let shared: Vec<_> = store
        .events(&[])
        .into_iter()
        .filter(|e| e["event_id"] == "123aaac1-123d-456a-1k29a4dd2kea")
        .collect();
    let times: Vec<_> = shared.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert_eq!(
        times,
        ["2017-01-01T00:20:50Z", "2019-07-08T19:44:37Z"],
        "one event per source, id and time"
    );
    let again = store.ingest(&[&dir]);
    assert_eq!(again.code, 1);
    assert!(again.stdout.contains("0 new"), "{}", again.stdout);
}

#[test]
fn own_fixtures_lookup_events_digest_k8s_stages_and_azure_shapes() {
    let store = TempStore::new();
    let r = store.ingest(&[&audit_data(""), "--format".as_ref(), "json".as_ref()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = common::json(&r);
    assert_eq!(summary["records"]["ignored"], 1, "the digest file");
    assert_eq!(summary["events"]["inserted"], 7);
    assert_eq!(
        summary["events"]["upgraded"], 1,
        "RequestReceived, then ResponseComplete"
    );

    let cli = store.event("0b5c4a5e-1a52-4c3f-9d2b-1f6f0c0a0001");
    assert_eq!(cli["actor"]["kind"], "cli");
    assert_eq!(
        cli["principal"]["id"],
        "arn:aws:iam::111122223333:user/alice"
    );
    let tf = store.event("0b5c4a5e-1a52-4c3f-9d2b-1f6f0c0a0002");
    assert_eq!(tf["actor"]["kind"], "terraform");
    assert_eq!(tf["actor"]["rule"], "userAgent:Terraform (hint)");
    assert_eq!(tf["principal"]["source_identity"], "alice@example.com");
    assert_eq!(
        tf["principal"]["issuer"],
        "arn:aws:iam::111122223333:role/terraform-ci"
    );
    assert_eq!(
        strs(&tf["resources"]),
        ["example-logs"],
        "the policy document's ARNs are not resources of the call"
    );

    let patch = store.event("5b0f7f36-7c2e-4d5e-9a7e-000000000001");
    assert_eq!(patch["actor"]["kind"], "kubectl");
    assert_eq!(patch["outcome"]["result"], "success");
    assert!(strs(&patch["resources"]).contains(&"shop/web"));

    let portal = store.event("a1e8c6d2-0000-4000-8000-000000000001");
    assert_eq!(portal["actor"]["kind"], "console");
    assert_eq!(portal["actor"]["rule"], "claims.appid:Azure Portal");
    let failed = store.event("a1e8c6d2-0000-4000-8000-000000000002");
    assert_eq!(failed["outcome"]["result"], "failure");
    assert_eq!(failed["actor"]["kind"], "cli");
    let exported = store.events(&["--source", "azure", "--action", "*DELETE"]);
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0]["principal"]["id"], "dev@example.com");
    assert_eq!(exported[0]["source_ip"], "203.0.113.21");
}

#[test]
fn kubernetes_secret_values_never_reach_the_store() {
    let store = TempStore::new();
    let r = store.ingest(&[&audit_data("k8s-audit.log")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let raw = common::run(
        common::driftlog()
            .arg("--store")
            .arg(store.path())
            .args(["events", "--raw", "--format", "jsonl"]),
    );
    assert_eq!(raw.code, 0);
    assert!(raw.stdout.contains("db-credentials"));
    assert!(raw.stdout.contains("(redacted by driftlog)"));
    // Every stored record is in this output, decompressed: the evidence holds no secret.
    for canary in [
        "K8S-CANARY-do-not-print",
        "SzhzLUNBTkFSWS1kby1ub3QtcHJpbnQ=",
    ] {
        assert!(!raw.stdout.contains(canary), "{canary} leaked");
    }
}
