//! The real manifest/live pairs and live objects in `../shared/fixtures` (Argo CD's
//! gitops-engine test data): each pair gives the drift a person would see, and every live
//! object compares equal to itself and to its own last-applied configuration.

use driftlog_core::k8s::{compare, CompareOptions, Object};
use std::path::PathBuf;

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("DRIFTLOG_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: shared fixtures not found at {} (set DRIFTLOG_FIXTURES)",
            dir.display()
        );
        None
    }
}

fn read(dir: &std::path::Path, name: &str) -> Vec<Object> {
    driftlog_k8s::read_path(&dir.join(format!("gitops-engine__{name}")))
        .unwrap()
        .objects
}

/// `address kind` and `path: before -> after` lines, as a person reads the result.
fn drift(config: &str, live: &str) -> Vec<String> {
    let dir = fixtures().unwrap().join("k8s-manifest-live-pairs");
    let result = compare(
        &read(&dir, config),
        &read(&dir, live),
        &CompareOptions::default(),
    );
    let mut out = Vec::new();
    for f in result.findings {
        out.push(format!("{} {}", f.address, f.kind.as_str()));
        for c in f.changes {
            let by = c
                .set_by
                .map(|m| format!(" (set by {} {})", m.manager, m.operation))
                .unwrap_or_default();
            out.push(format!("  {}: {} -> {}{by}", c.path, c.before, c.after));
        }
    }
    out
}

#[test]
fn every_pair_gives_the_drift_a_person_would_see() {
    if fixtures().is_none() {
        return;
    }
    // The rules of an aggregated ClusterRole are written by the aggregation controller from
    // the roles its selector matches: not drift.
    assert!(drift("aggr-clusterrole-config.json", "aggr-clusterrole-live.json").is_empty());
    // Live has every server default (strategy, probes, dnsPolicy…) and an env var VAR2 that
    // neither the manifest nor the last-applied configuration has and no person's field
    // manager set (injected at admission): not drift. Argo CD agrees (TestThreeWayDiffExample3).
    assert!(drift("deployment-config.json", "deployment-live.json").is_empty());
    // The endpoints controller reorders addresses and fills port protocols: not drift.
    assert!(drift("endpoints-config.json", "endpoints-live.json").is_empty());
    // `rules: null` in the manifest against no rules live: empty is absent.
    assert!(drift(
        "grafana-clusterrole-config.json",
        "grafana-clusterrole-live.json"
    )
    .is_empty());
    // The webhook's caBundle and defaulted fields (sideEffects, timeoutSeconds…): not drift.
    assert!(drift(
        "mutatingwebhookconfig-config.json",
        "mutatingwebhookconfig-live.json"
    )
    .is_empty());
    // `creationTimestamp: null` in the manifest: server metadata, not drift.
    assert!(drift("sealedsecret-config.json", "sealedsecret-live.json").is_empty());
    // Live only adds defaults and the status controller's fields.
    assert!(drift("smd-deploy-config.yaml", "smd-deploy-live.yaml").is_empty());
    // CPU and memory requests were applied by Argo CD (its Apply field set owns them) and the
    // manifest no longer has them: the cluster still runs with them, so this is drift.
    assert_eq!(
        drift("smd-deploy2-config.yaml", "smd-deploy2-live.yaml"),
        [
            "apps/v1/Deployment/default/nginx-deployment changed",
            "  spec.template.spec.containers[name=nginx].resources.requests.cpu: null -> \"500m\" (set by argocd-controller Apply)",
            "  spec.template.spec.containers[name=nginx].resources.requests.memory: null -> \"512Mi\" (set by argocd-controller Apply)",
        ]
    );
    // The manifest sends port 1935 to targetPort 1936; live sends it to 1935: a real edit.
    // The node ports, cluster IPs and traffic policies are allocated or defaulted.
    let rtmp = "  spec.ports[port=1935,protocol=TCP].targetPort: 1936 -> 1935 (set by argocd-controller Apply)";
    assert_eq!(
        drift("smd-service-config.yaml", "smd-service-live.yaml"),
        [
            "v1/Service/default/multiple-protocol-port-svc changed",
            rtmp
        ]
    );
    // As above, and the Service is a NodePort: Argo CD applied `type` once, the manifest no
    // longer says it, so the next apply makes it the default ClusterIP again: drift.
    assert_eq!(
        drift("smd-service-config.yaml", "smd-service-live-with-type.yaml"),
        [
            "v1/Service/default/multiple-protocol-port-svc changed",
            rtmp,
            "  spec.type: \"ClusterIP\" -> \"NodePort\" (set by argocd-controller Apply)",
        ]
    );
    // Explicit namespace in the last-applied configuration, none in the manifest.
    assert!(drift("spinnaker-sa-config.json", "spinnaker-sa-live.json").is_empty());
    // The manifest declares a third nginx port (8080, metrics) that is not live: drift. Ports
    // are matched by number and protocol (TCP when unsaid), not by position.
    assert_eq!(
        drift("ssd-deploy-composite-key-config.yaml", "ssd-deploy-composite-key-live.yaml"),
        [
            "apps/v1/Deployment/default/test-container-ports changed",
            "  spec.template.spec.containers[name=nginx].ports[containerPort=8080,protocol=TCP]: {\"containerPort\":8080,\"name\":\"metrics\"} -> null",
        ]
    );
    // What the server predicts after applying the manifest has all three ports.
    assert!(drift(
        "ssd-deploy-composite-key-config.yaml",
        "ssd-deploy-composite-key-predicted-live.json"
    )
    .is_empty());
    assert!(drift("ssd-service-config.yaml", "ssd-service-live.yaml").is_empty());
    // The predicted object shows a mutating webhook replacing the labels: the declared
    // instance label would not survive, and a person would want to know.
    assert_eq!(
        drift("ssd-service-config.yaml", "ssd-service-predicted-live.json"),
        [
            "v1/Service/httpbin/httpbin-svc changed",
            "  metadata.labels[\"app.kubernetes.io/instance\"]: \"httpbin\" -> null",
        ]
    );
    // A label Argo CD applied and the manifest has since dropped: the next apply removes it.
    assert_eq!(
        drift("ssd-svc-no-label-config.yaml", "ssd-svc-label-live.yaml"),
        [
            "v1/Service/httpbin/httpbin-svc changed",
            "  metadata.labels.delete-me: null -> \"delete-value\" (set by argocd-controller Apply)",
        ]
    );
    assert!(drift(
        "ssd-svc-no-label-config.yaml",
        "ssd-svc-no-label-predicted-live.json"
    )
    .is_empty());
}

#[test]
fn every_live_object_equals_itself_and_its_last_applied_configuration() {
    let Some(dir) = fixtures() else { return };
    let dir = dir.join("k8s-live-objects");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let (mut loaded, mut with_last_applied) = (0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        let objects = match driftlog_k8s::read_path(file) {
            Ok(r) => r.objects,
            // The two Argo CD Application files are health-check fragments (kind and status,
            // no metadata): no API server returns an object without a name, and one cannot be
            // matched with anything. They are refused, naming the file and what is missing.
            Err(e) if name.contains("application-") => {
                assert!(e.to_string().contains("missing `metadata.name`"), "{e}");
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        loaded += objects.len();
        let itself = compare(&objects, &objects, &CompareOptions::default());
        assert!(itself.findings.is_empty(), "{name}: {:?}", itself.findings);
        for o in &objects {
            let annotation = o
                .value
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(driftlog_core::k8s::normalize::LAST_APPLIED))
                .and_then(|v| v.as_str());
            if let Some(text) = annotation {
                with_last_applied += 1;
                let applied = driftlog_k8s::parse(text.as_bytes(), "last-applied").unwrap();
                let r = compare(
                    &applied,
                    std::slice::from_ref(o),
                    &CompareOptions::default(),
                );
                assert!(r.findings.is_empty(), "{name}: {:?}", r.findings);
            }
        }
    }
    assert_eq!((loaded, with_last_applied), (files.len() - 2, 8));
}
