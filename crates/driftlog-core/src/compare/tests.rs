use super::*;
use crate::engine::MaskForm;
use serde_json::json;
use serde_json::value::RawValue;

/// One resource: address, attributes and sensitive mirror as raw JSON.
type Raw = (String, Box<RawValue>, Option<Box<RawValue>>);

/// Raw attribute texts kept alive for the borrowed instances.
struct States(Vec<Vec<Raw>>);

fn states(envs: &[&[(&str, Value)]]) -> States {
    States(
        envs.iter()
            .map(|resources| {
                resources
                    .iter()
                    .map(|(address, attrs)| {
                        let sensitive = attrs.get("__sensitive").cloned();
                        let mut attrs = attrs.clone();
                        if let Value::Object(m) = &mut attrs {
                            m.remove("__sensitive");
                        }
                        (
                            (*address).to_owned(),
                            RawValue::from_string(attrs.to_string()).unwrap(),
                            sensitive.map(|s| RawValue::from_string(s.to_string()).unwrap()),
                        )
                    })
                    .collect()
            })
            .collect(),
    )
}

fn run(names: &[&str], states: &States, rules: &str) -> CompareReport {
    let rules = ExpectRules::parse_file(rules, "rules").unwrap();
    let envs = names
        .iter()
        .zip(&states.0)
        .map(|(name, resources)| Environment {
            profile: EnvProfile::new(name, &[]),
            input: InputFile {
                role: (*name).to_owned(),
                path: format!("{name}.tfstate"),
                detected: "state_v4".into(),
                sha256: String::new(),
                bytes: 0,
            },
            instances: resources
                .iter()
                .map(|(address, attrs, sensitive)| ResourceInstance {
                    address: address.clone(),
                    deposed: None,
                    resource_type: address.split('.').next().unwrap().to_owned(),
                    provider: "registry.terraform.io/hashicorp/aws".into(),
                    managed: true,
                    attributes: Some(attrs),
                    sensitive: sensitive.as_deref(),
                    mask_form: MaskForm::Mirror,
                })
                .collect(),
        })
        .collect();
    compare_environments(envs, &rules, Vec::new()).unwrap()
}

fn sg(env: &str, account: &str, region: &str, id: &str, extra_rule: bool) -> Value {
    let mut ingress = vec![
        json!({"from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/8"], "protocol": "tcp"}),
    ];
    if extra_rule {
        ingress.push(json!({"from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"], "protocol": "tcp"}));
    }
    json!({
        "id": id,
        "arn": format!("arn:aws:ec2:{region}:{account}:security-group/{id}"),
        "name": format!("web-{env}-sg"),
        "owner_id": account,
        "vpc_id": format!("vpc-0{}", &id[4..]),
        "ingress": ingress,
        "tags": {"Environment": env, "Name": format!("web-{env}")},
        "tags_all": {"Environment": env, "Name": format!("web-{env}")},
    })
}

#[test]
fn names_accounts_regions_and_ids_are_not_differences() {
    let s = states(&[
        &[(
            "aws_security_group.web",
            sg("dev", "111111111111", "us-east-1", "sg-0aaa1111", false),
        )],
        &[(
            "aws_security_group.web",
            sg("staging", "222222222222", "eu-west-1", "sg-0bbb2222", false),
        )],
        &[(
            "aws_security_group.web",
            sg("prod", "333333333333", "us-east-1", "sg-0ccc3333", false),
        )],
    ]);
    let report = run(&["dev", "staging", "prod"], &s, "");
    assert_eq!(report.resources.len(), 0, "{:#?}", report.resources);
    assert_eq!(report.summary.resources, 1);
    assert_eq!(report.summary.in_every_environment, 1);
    assert_eq!(report.environments[1].accounts, ["222222222222"]);
    assert_eq!(report.environments[1].regions, ["eu-west-1"]);
    assert!(!report.has_unexpected());
}

#[test]
fn a_rule_added_in_prod_only_is_an_unexpected_set_difference() {
    let s = states(&[
        &[(
            "aws_security_group.web",
            sg("dev", "111111111111", "us-east-1", "sg-0aaa1111", false),
        )],
        &[(
            "aws_security_group.web",
            sg("staging", "111111111111", "us-east-1", "sg-0bbb2222", false),
        )],
        &[(
            "aws_security_group.web",
            sg("prod", "333333333333", "us-east-1", "sg-0ccc3333", true),
        )],
    ]);
    let report = run(&["dev", "staging", "prod"], &s, "");
    assert_eq!(report.resources.len(), 1);
    let r = &report.resources[0];
    assert_eq!(r.differences.len(), 1, "{:#?}", r.differences);
    let d = &r.differences[0];
    assert_eq!(d.path, "ingress");
    assert!(d.expected.is_none());
    let groups: Vec<_> = d.cells.iter().map(|c| c.group).collect();
    assert_eq!(groups, [Some(0), Some(0), Some(1)]);
    // The cells hold the states' own values, not the normalized ones.
    assert_eq!(d.cells[2].value.as_array().unwrap().len(), 2);
    assert_eq!(report.summary.unexpected, 1);
}

#[test]
fn expected_differences_follow_the_rules() {
    let db = |size: u64, class: &str| json!({"allocated_storage": size, "instance_class": class, "engine": "postgres"});
    let s = states(&[
        &[("aws_db_instance.main", db(20, "db.t3.micro"))],
        &[("aws_db_instance.main", db(50, "db.t3.large"))],
        &[("aws_db_instance.main", db(100, "db.r6g.large"))],
    ]);
    let rules = "aws_db_instance.* instance_class\naws_db_instance.* allocated_storage prod>staging,staging>dev,prod>dev\n";
    let report = run(&["dev", "staging", "prod"], &s, rules);
    let r = &report.resources[0];
    assert_eq!(r.differences.len(), 2);
    assert!(
        r.differences.iter().all(|d| d.expected.is_some()),
        "{:#?}",
        r.differences
    );
    assert!(!report.has_unexpected());

    // Staging bigger than prod breaks `prod>staging`.
    let s = states(&[
        &[("aws_db_instance.main", db(20, "db.t3.micro"))],
        &[("aws_db_instance.main", db(200, "db.t3.large"))],
        &[("aws_db_instance.main", db(100, "db.r6g.large"))],
    ]);
    let report = run(&["dev", "staging", "prod"], &s, rules);
    let storage = &report.resources[0].differences[0];
    assert_eq!(storage.path, "allocated_storage");
    assert!(storage.expected.is_none());
}

#[test]
fn missing_resources_and_their_rules() {
    let s = states(&[
        &[
            ("aws_instance.bastion", json!({"instance_type": "t3.micro"})),
            ("aws_s3_bucket.logs", json!({"bucket": "logs-dev"})),
        ],
        &[("aws_s3_bucket.logs", json!({"bucket": "logs-prod"}))],
    ]);
    let report = run(&["dev", "prod"], &s, "");
    assert_eq!(report.resources.len(), 1);
    assert_eq!(report.resources[0].missing_from, ["prod"]);
    assert!(report.resources[0].missing_is_unexpected());
    let report = run(&["dev", "prod"], &s, "aws_instance.bastion (exists) prod\n");
    assert!(report.resources[0].missing_expected.is_some());
    assert_eq!(report.summary.expected, 1);
    assert_eq!(report.summary.missing_somewhere, 1);
}

#[test]
fn secrets_are_compared_but_never_shown() {
    let user = |password: &str| json!({"name": "app", "password": password, "__sensitive": {"password": true}});
    let s = states(&[
        &[("aws_db_user.app", user("CANARY-s3cret"))],
        &[("aws_db_user.app", user("CANARY-s3cret"))],
        &[("aws_db_user.app", user("CANARY-other"))],
    ]);
    let report = run(&["dev", "staging", "prod"], &s, "");
    let d = &report.resources[0].differences[0];
    assert!(d.sensitive);
    assert_eq!(
        d.cells.iter().map(|c| c.group).collect::<Vec<_>>(),
        [Some(0), Some(0), Some(1)]
    );
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("CANARY"), "{text}");
}

#[test]
fn null_and_empty_and_policy_spelling_are_equal() {
    let policy_a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b-dev/*"}]}"#;
    let policy_b = "{\n  \"Statement\": [{\"Resource\": \"arn:aws:s3:::b-prod/*\", \"Action\": [\"s3:GetObject\"], \"Effect\": \"Allow\"}],\n  \"Version\": \"2012-10-17\"\n}";
    let s = states(&[
        &[(
            "aws_s3_bucket_policy.b",
            json!({"policy": policy_a, "tags": null}),
        )],
        &[(
            "aws_s3_bucket_policy.b",
            json!({"policy": policy_b, "tags": {}}),
        )],
    ]);
    let report = run(&["dev", "prod"], &s, "");
    assert!(report.resources.is_empty(), "{:#?}", report.resources);
}
