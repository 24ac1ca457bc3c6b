use super::*;
use serde_json::json;

fn finding(address: &str, changes: Vec<Change>) -> Finding {
    Finding {
        address: address.into(),
        resource_type: address.split('.').rev().nth(1).unwrap_or("").into(),
        provider: String::new(),
        kind: FindingKind::Changed,
        deposed: None,
        previous_address: None,
        changes,
        identifiers: vec![],
        attribution: None,
        remediation: None,
        discovery: None,
        stack: None,
    }
}

fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = d.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

const MAIN: &str = r#"# The web tier.
resource "aws_instance" "web" {
  ami           = "ami-0aaaaaaaaaaaaaaa1" # pinned
  instance_type = "t3.medium"

  tags = {
    Name  = "web"
    Owner = "web-team" # who to call
  }
}

resource "aws_s3_bucket_policy" "assets" {
  bucket = aws_s3_bucket.assets.id
  policy = <<-EOT
    {"Version": "2012-10-17", "Statement": []}
  EOT
}

resource "aws_sqs_queue" "jobs" {
  name                       = "jobs-${var.env}"
  visibility_timeout_seconds = var.timeout
  tags                       = { Team = "jobs" }
}
"#;

#[test]
fn literals_change_in_place_and_comments_stay() {
    let d = dir(&[("main.tf", MAIN)]);
    let mut config = Config::open(d.path()).unwrap();
    let f = finding(
        "aws_instance.web",
        vec![
            Change::new(
                "instance_type".into(),
                json!("t3.medium"),
                json!("t3.xlarge"),
            ),
            Change::new("tags.Owner".into(), json!("web-team"), json!("data-team")),
            Change::new("tags.CostCenter".into(), Value::Null, json!("42")),
            Change::new(
                "tags_all.Owner".into(),
                json!("web-team"),
                json!("data-team"),
            ),
        ],
    );
    let c = config.codify(&f);
    assert_eq!(c.files, ["main.tf"]);
    let patched = &config.dirs[Path::new("")][0].current;
    assert!(
        patched.contains("  instance_type = \"t3.xlarge\"\n"),
        "{patched}"
    );
    assert!(
        patched.contains("    Owner = \"data-team\" # who to call\n"),
        "{patched}"
    );
    assert!(
        patched.contains("    CostCenter = \"42\"\n  }"),
        "{patched}"
    );
    assert!(patched.contains("ami           = \"ami-0aaaaaaaaaaaaaaa1\" # pinned"));
    assert!(hcl_edit::parser::parse_body(patched).is_ok());
    assert!(
        c.patch.starts_with("--- a/main.tf\n+++ b/main.tf\n"),
        "{}",
        c.patch
    );
}

#[test]
fn heredoc_policies_stay_heredocs() {
    let d = dir(&[("main.tf", MAIN)]);
    let mut config = Config::open(d.path()).unwrap();
    let live = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Resource\": \"arn:aws:s3:::assets/${aws:username}\"}]\n}\n";
    let f = finding(
        "aws_s3_bucket_policy.assets",
        vec![Change::new("policy".into(), json!("{}"), json!(live))],
    );
    let c = config.codify(&f);
    let patched = &config.dirs[Path::new("")][0].current;
    assert!(
        patched.contains("  policy = <<-EOT\n    {\n      \"Version\": \"2012-10-17\",\n"),
        "{patched}"
    );
    // `${` in the policy is escaped so Terraform does not read it as a template.
    assert!(patched.contains("$${aws:username}"), "{patched}");
    let body = hcl_edit::parser::parse_body(patched).unwrap();
    let block = find_resource(&body, "aws_s3_bucket_policy", "assets").unwrap();
    assert!(matches!(
        block.body.get_attribute("policy").unwrap().value,
        Expression::HeredocTemplate(_)
    ));
    assert_eq!(c.files, ["main.tf"]);
    // Without a final newline the value cannot be a heredoc's text: a quoted string, exact.
    let f = finding(
        "aws_s3_bucket_policy.assets",
        vec![Change::new(
            "policy".into(),
            json!("{}"),
            json!("{\"a\":1}"),
        )],
    );
    config.codify(&f);
    let patched = &config.dirs[Path::new("")][0].current;
    assert!(patched.contains(r#"  policy = "{\"a\":1}""#), "{patched}");
}

#[test]
fn expressions_are_never_guessed_at() {
    let d = dir(&[("main.tf", MAIN)]);
    let mut config = Config::open(d.path()).unwrap();
    let f = finding(
        "aws_sqs_queue.jobs",
        vec![
            Change::new("visibility_timeout_seconds".into(), json!(30), json!(60)),
            Change::new("name".into(), json!("jobs-prod"), json!("jobs-x")),
            Change::new("tags.Extra".into(), Value::Null, json!("y")),
            Change::new("delay_seconds".into(), json!(0), json!(5)),
        ],
    );
    let c = config.codify(&f);
    let notes = c.notes.join("\n");
    assert!(
        notes.contains("visibility_timeout_seconds: set by `var.timeout`"),
        "{notes}"
    );
    assert!(
        notes.contains("name: set by `\"jobs-${var.env}\"`"),
        "{notes}"
    );
    assert!(
        notes.contains("delay_seconds: not set in the configuration"),
        "{notes}"
    );
    // The one literal change: a new entry in a one-line map.
    let patched = &config.dirs[Path::new("")][0].current;
    assert!(
        patched.contains(r#"tags                       = { Team = "jobs", Extra = "y" }"#),
        "{patched}"
    );
}

#[test]
fn modules_for_each_and_nested_blocks() {
    let d = dir(&[
        ("main.tf", "module \"net\" {\n  source = \"./modules/net\"\n}\n\nmodule \"remote\" {\n  source = \"terraform-aws-modules/vpc/aws\"\n}\n"),
        (
            "modules/net/sg.tf",
            "resource \"aws_security_group\" \"web\" {\n  for_each = toset([\"a\", \"b\"])\n  name     = \"web-${each.key}\"\n\n  ingress {\n    from_port   = 443\n    to_port     = 443\n    protocol    = \"tcp\"\n    cidr_blocks = [\"10.0.0.0/8\"]\n  }\n}\n",
        ),
    ]);
    let mut config = Config::open(d.path()).unwrap();
    let rule = json!({"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [], "description": "ssh", "self": false});
    let old = json!({"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"], "ipv6_cidr_blocks": [], "self": false, "description": ""});
    let mut c = Change::new(
        "ingress".into(),
        json!([old.clone()]),
        json!([rule.clone()]),
    );
    c.added = Some(vec![rule]);
    c.removed = Some(vec![old]);
    let out = config.codify(&finding(
        "module.net.aws_security_group.web[\"a\"]",
        vec![c],
    ));
    assert_eq!(out.files, ["modules/net/sg.tf"], "{:?}", out.notes);
    assert!(
        out.notes.iter().any(|n| n.contains("`for_each`")),
        "{:?}",
        out.notes
    );
    let patched = &config.dirs[Path::new("modules/net")][0].current;
    assert!(patched.contains("    from_port   = 22\n"), "{patched}");
    assert!(!patched.contains("443"), "{patched}");
    assert!(hcl_edit::parser::parse_body(patched).is_ok(), "{patched}");

    let remote = config.codify(&finding(
        "module.remote.aws_vpc.this[0]",
        vec![Change::new(
            "cidr_block".into(),
            json!("10.0.0.0/16"),
            json!("10.1.0.0/16"),
        )],
    ));
    assert!(remote.patch.is_empty());
    assert!(
        remote.notes[0].contains("from terraform-aws-modules/vpc/aws"),
        "{:?}",
        remote.notes
    );
}

#[test]
fn secrets_are_never_written() {
    let d = dir(&[(
        "main.tf",
        "resource \"aws_db_instance\" \"db\" {\n  password = \"declared\"\n}\n",
    )]);
    let mut config = Config::open(d.path()).unwrap();
    let mut c = Change::new(
        "password".into(),
        json!("(sensitive)"),
        json!("(sensitive)"),
    );
    c.sensitive = true;
    let out = config.codify(&finding("aws_db_instance.db", vec![c]));
    assert!(out.patch.is_empty());
    assert!(out.notes[0].contains("never writes secrets"));
}

#[test]
fn hcl_strings_escape_templates() {
    assert_eq!(hcl_string("a\"b${c}%{d}\n"), r#""a\"b$${c}%%{d}\n""#);
    assert_eq!(
        hcl_value(&json!({"a b": 1, "c": [1, 2]}), ""),
        "{\n  \"a b\" = 1\n  c     = [1, 2]\n}"
    );
}
