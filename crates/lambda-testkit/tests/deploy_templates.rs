//! The SAM templates in deploy/: least privilege, checked (cfn-lint validates syntax and
//! types, not what a policy allows), and each wired to its engine's defaults (read from the
//! engine crates, dev-dependencies here). Templates use long-form intrinsics so they parse as
//! plain YAML.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

const ROTATION_ACTIONS: [&str; 4] = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
];
const KMS_ACTIONS: [&str; 3] = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"];
const LOG_ACTIONS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];
const RANDOM_PASSWORD: &str = "secretsmanager:GetRandomPassword";
/// The master secret: read, and its tags (a managed master names its database in one).
const MASTER_ACTIONS: [&str; 2] = [
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
];
/// Where a managed master's database is (rotwise-managed), with the resources each set
/// may name: the account's DB instances and clusters in the region, its Redshift clusters,
/// and "*" for the Redshift Serverless List actions, which act on no resource.
const RDS_LOOKUP: [&str; 2] = ["rds:DescribeDBInstances", "rds:DescribeDBClusters"];
const RDS_RESOURCES: [&str; 2] = [
    "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*",
    "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:*",
];
const REDSHIFT_LOOKUP: [&str; 1] = ["redshift:DescribeClusters"];
const REDSHIFT_RESOURCE: &str =
    "arn:${AWS::Partition}:redshift:${AWS::Region}:${AWS::AccountId}:cluster:*";
const SERVERLESS_LOOKUP: [&str; 2] = [
    "redshift-serverless:ListNamespaces",
    "redshift-serverless:ListWorkgroups",
];

/// The lookups each function makes for a managed master (by template name).
fn lookups_of(template: &str) -> Vec<&'static str> {
    match template {
        "redshift" => REDSHIFT_LOOKUP
            .iter()
            .chain(&SERVERLESS_LOOKUP)
            .copied()
            .collect(),
        _ => RDS_LOOKUP.to_vec(),
    }
}

fn is_lookup(action: &str) -> bool {
    ["rds:", "redshift:", "redshift-serverless:"]
        .iter()
        .any(|p| action.starts_with(p))
}
/// ENIs for the VPC attachment and nothing else (AWSLambdaVPCAccessExecutionRole also grants
/// `logs:*` on every log group).
const VPC_POLICY: &str =
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess";

/// `SecretArn` values CloudFormation must accept: one secret, or a prefix of a name.
const GOOD_SECRET_ARNS: [&str; 5] = [
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db/app-AbCdEf",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db/*",
    "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a*",
    "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x_y+z=w.v@u-1",
    // RDS-managed master secrets are named rds!...
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-0a1b-AbCdEf",
];

/// `SecretArn` values it must refuse: every secret of an account, region or partition, or
/// a wildcard anywhere but at the end of a non-empty name.
const BAD_SECRET_ARNS: [&str; 10] = [
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:**",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:?*",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*prod",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/*/app",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod**",
    "arn:aws:secretsmanager:*:123456789012:secret:prod/*",
    "arn:aws:secretsmanager:eu-west-1:*:secret:prod/*",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
    "*",
];

/// Whether `value` satisfies the CloudFormation `AllowedPattern` of `param` (none: any).
fn allowed_by(param: &Value, value: &str) -> bool {
    match param["AllowedPattern"].as_str() {
        None => true,
        Some(pattern) => regex_lite::Regex::new(pattern)
            .map(|re| re.is_match(value))
            .unwrap_or(false),
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn templates() -> Vec<(PathBuf, Value)> {
    let dir = root().join("deploy");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let value: Value = serde_norway::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not plain YAML: {e}", path.display()));
            found.push((path, value));
        }
    }
    assert!(!found.is_empty(), "no template in {}", dir.display());
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// A statement, with the condition it is under (`Fn::If`), if any.
struct Stmt<'a> {
    condition: Option<&'a str>,
    body: &'a Value,
}

fn is_no_value(v: &Value) -> bool {
    v == &json!({"Ref": "AWS::NoValue"})
}

fn statements(doc: &Value) -> Vec<Stmt<'_>> {
    let mut out = Vec::new();
    for s in doc["Statement"].as_array().into_iter().flatten() {
        if let Some(args) = s.get("Fn::If").and_then(Value::as_array) {
            let cond = args[0].as_str();
            for branch in &args[1..] {
                if !is_no_value(branch) {
                    out.push(Stmt {
                        condition: cond,
                        body: branch,
                    });
                }
            }
        } else {
            out.push(Stmt {
                condition: None,
                body: s,
            });
        }
    }
    out
}

fn strings(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// Every branch of an `Fn::If`, flattened; other values as they are.
fn branches(v: &Value) -> Vec<&Value> {
    if let Some(args) = v.get("Fn::If").and_then(Value::as_array) {
        args[1..].iter().flat_map(branches).collect()
    } else {
        strings(v)
    }
}

fn all_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| all_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| all_strings(x, out)),
        _ => {}
    }
}

/// What is wrong with the template's IAM policy and wiring (empty: nothing).
fn violations(t: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let resources = t["Resources"].as_object().cloned().unwrap_or_default();
    let params = &t["Parameters"];

    // '*' only in GetRandomPassword's "*", the Redshift Serverless List actions' "*" and
    // the lookup ARNs (checked per statement below).
    let mut strs = Vec::new();
    all_strings(&t["Resources"], &mut strs);
    let allowed = ["*", RDS_RESOURCES[0], RDS_RESOURCES[1], REDSHIFT_RESOURCE];
    for s in strs.iter().filter(|s| s.contains('*')) {
        if !allowed.contains(s) {
            bad.push(format!("{s:?}: a wildcard in Resources"));
        }
    }
    let bare_stars = strs.iter().filter(|s| **s == "*").count();
    if bare_stars > 2 {
        bad.push(format!("{bare_stars} \"*\" resources"));
    }

    let mut saw = std::collections::BTreeSet::new();
    for (name, r) in &resources {
        let ty = r["Type"].as_str().unwrap_or("");
        if ty == "AWS::IAM::Policy" || ty == "AWS::IAM::ManagedPolicy" || ty == "AWS::IAM::User" {
            bad.push(format!(
                "{name}: only the function's role may grant permissions"
            ));
        }
        if ty != "AWS::IAM::Role" {
            continue;
        }
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
            != "lambda.amazonaws.com"
        {
            bad.push(format!("{name}: the role is assumed by Lambda only"));
        }
        for arn in branches(&r["Properties"]["ManagedPolicyArns"]) {
            if arn.is_null() || is_no_value(arn) {
                continue;
            }
            let ok = arn == &json!({"Fn::Sub": VPC_POLICY})
                && r["Properties"]["ManagedPolicyArns"]["Fn::If"][0] == "HasVpc";
            if !ok {
                bad.push(format!(
                    "{name}: managed policy {arn} (only the VPC one, under HasVpc)"
                ));
            }
        }
        for policy in r["Properties"]["Policies"].as_array().into_iter().flatten() {
            for s in statements(&policy["PolicyDocument"]) {
                let sid = s.body["Sid"].as_str().unwrap_or("?");
                if s.body["Effect"] != "Allow" {
                    bad.push(format!("{sid}: Effect must be Allow"));
                }
                if s.body.get("NotAction").is_some() || s.body.get("NotResource").is_some() {
                    bad.push(format!("{sid}: NotAction/NotResource"));
                }
                let actions: Vec<&str> = strings(&s.body["Action"])
                    .into_iter()
                    .filter_map(Value::as_str)
                    .collect();
                let resource = &s.body["Resource"];
                for a in &actions {
                    saw.insert(a.to_string());
                    if a.contains('*') {
                        bad.push(format!("{sid}: wildcard action {a}"));
                    }
                }
                let refs: Vec<&Value> = branches(resource);
                let is_ref =
                    |v: &Value, names: &[&str]| names.iter().any(|n| v == &json!({"Ref": n}));
                if actions.contains(&RANDOM_PASSWORD) {
                    if actions != [RANDOM_PASSWORD] || resource != "*" {
                        bad.push(format!(
                            "{sid}: GetRandomPassword alone, on \"*\" (it has no resource)"
                        ));
                    }
                    if s.condition != Some("UsesServicePasswords") {
                        bad.push(format!("{sid}: GetRandomPassword only when configured"));
                    }
                } else if actions.iter().all(|a| is_lookup(a)) {
                    // A managed master's database: reads, only with a master secret.
                    let want: Vec<Value> = if actions == RDS_LOOKUP {
                        RDS_RESOURCES
                            .iter()
                            .map(|r| json!({"Fn::Sub": r}))
                            .collect()
                    } else if actions == REDSHIFT_LOOKUP {
                        vec![json!({"Fn::Sub": REDSHIFT_RESOURCE})]
                    } else if actions == SERVERLESS_LOOKUP {
                        vec![json!("*")]
                    } else {
                        bad.push(format!("{sid}: unexpected lookup actions {actions:?}"));
                        continue;
                    };
                    let got: Vec<Value> = strings(resource).into_iter().cloned().collect();
                    if got != want {
                        bad.push(format!(
                            "{sid}: {actions:?} on {resource}, expected {want:?}"
                        ));
                    }
                    if s.condition != Some("HasMasterSecret") {
                        bad.push(format!("{sid}: lookups only under HasMasterSecret"));
                    }
                } else if actions.iter().all(|a| ROTATION_ACTIONS.contains(a)) {
                    if refs.iter().any(|v| is_ref(v, &["MasterSecretArn"])) {
                        // The master secret: read (and its tags) only, and only when given.
                        if actions != MASTER_ACTIONS
                            || !refs.iter().all(|v| is_ref(v, &["MasterSecretArn"]))
                            || s.condition != Some("HasMasterSecret")
                        {
                            bad.push(format!("{sid}: the master secret: {MASTER_ACTIONS:?} on MasterSecretArn under HasMasterSecret"));
                        }
                    } else {
                        if actions.len() != ROTATION_ACTIONS.len() {
                            bad.push(format!("{sid}: rotation actions {actions:?}"));
                        }
                        if refs.is_empty()
                            || !refs
                                .iter()
                                .all(|v| is_ref(v, &["SecretArn", "ExampleSecret"]))
                        {
                            bad.push(format!(
                                "{sid}: rotation actions on SecretArn (or the example secret) only, got {resource}"
                            ));
                        }
                    }
                } else if actions.iter().all(|a| KMS_ACTIONS.contains(a)) {
                    if !is_ref(resource, &["KmsKeyArn"]) || s.condition != Some("HasKmsKey") {
                        bad.push(format!("{sid}: KMS on KmsKeyArn under HasKmsKey only"));
                    }
                    let context =
                        &s.body["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"];
                    let ctx = branches(context);
                    if ctx.is_empty()
                        || !ctx
                            .iter()
                            .all(|v| is_ref(v, &["SecretArn", "MasterSecretArn"]))
                    {
                        bad.push(format!(
                            "{sid}: KMS needs a kms:EncryptionContext:SecretARN condition on the secrets"
                        ));
                    }
                } else if actions.iter().all(|a| LOG_ACTIONS.contains(a)) {
                    if resource != &json!({"Fn::GetAtt": ["LogGroup", "Arn"]}) {
                        bad.push(format!("{sid}: logs to the function's own log group only"));
                    }
                } else {
                    bad.push(format!("{sid}: unexpected actions {actions:?}"));
                }
            }
        }
    }
    for needed in ROTATION_ACTIONS.iter().chain(KMS_ACTIONS.iter()) {
        if !saw.contains(*needed) {
            bad.push(format!("no statement grants {needed}"));
        }
    }
    if !saw.contains(RANDOM_PASSWORD) {
        bad.push("GetRandomPassword is not grantable when configured".to_string());
    }

    // The function and its wiring.
    let functions: Vec<_> = resources
        .values()
        .filter(|r| {
            r["Type"] == "AWS::Serverless::Function" || r["Type"] == "AWS::Lambda::Function"
        })
        .collect();
    if functions.len() != 1 {
        bad.push(format!("{} functions, expected 1", functions.len()));
    }
    for f in functions {
        let p = &f["Properties"];
        if p["Timeout"] != 30 {
            bad.push(format!("Timeout {} (30 s)", p["Timeout"]));
        }
        if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
            bad.push("runtime provided.al2023, handler bootstrap".to_string());
        }
        if p["Environment"]["Variables"]["ROTATION_STRATEGY"] != json!({"Ref": "RotationStrategy"})
        {
            bad.push("ROTATION_STRATEGY comes from the RotationStrategy parameter".to_string());
        }
        if p["VpcConfig"]["Fn::If"][0] != "HasVpc" {
            bad.push("VpcConfig only when subnets are given".to_string());
        }
    }
    // The rotated secrets: a secret or a prefix, never every secret.
    for arn in BAD_SECRET_ARNS {
        if allowed_by(&params["SecretArn"], arn) {
            bad.push(format!(
                "SecretArn accepts {arn:?} (not one secret or a prefix)"
            ));
        }
    }
    for arn in GOOD_SECRET_ARNS {
        if !allowed_by(&params["SecretArn"], arn) {
            bad.push(format!("SecretArn refuses {arn:?}"));
        }
    }
    // The master secret: one full ARN (or none), passed to the function, which refuses any
    // other `masterarn`: a secret under the SecretArn prefix must not be able to name
    // another secret it can read as its master.
    let master = &params["MasterSecretArn"];
    if !allowed_by(master, "")
        || !allowed_by(master, GOOD_SECRET_ARNS[0])
        || BAD_SECRET_ARNS
            .iter()
            .chain(&GOOD_SECRET_ARNS[1..3])
            .any(|arn| allowed_by(master, arn))
        || master["AllowedPattern"].is_null()
    {
        bad.push("MasterSecretArn: empty or the full ARN of one secret".to_string());
    }
    // verify-full by default (RDS's certificates: CaFile).
    if params["TlsMode"]["Default"] != "verify-full" {
        bad.push(format!(
            "TlsMode defaults to {} (verify-full)",
            params["TlsMode"]["Default"]
        ));
    }
    for f in resources
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
    {
        if f["Properties"]["Environment"]["Variables"]["ROTATION_MASTER_SECRET_ARN"]
            != json!({"Ref": "MasterSecretArn"})
        {
            bad.push(
                "ROTATION_MASTER_SECRET_ARN comes from the MasterSecretArn parameter".to_string(),
            );
        }
    }

    let strategy = &params["RotationStrategy"];
    if strategy.get("Default").is_some()
        || strategy["AllowedValues"] != json!(["single", "alternating"])
    {
        bad.push("RotationStrategy: required, single or alternating".to_string());
    }
    if t["Rules"]["AlternatingNeedsMasterSecret"].is_null() {
        bad.push("a rule requires MasterSecretArn for alternating".to_string());
    }

    let permissions: Vec<_> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Permission")
        .collect();
    if permissions.len() != 1
        || permissions[0]["Properties"]["Principal"] != "secretsmanager.amazonaws.com"
        || permissions[0]["Properties"]["SourceAccount"] != json!({"Ref": "AWS::AccountId"})
        || permissions[0]["Properties"]["Action"] != "lambda:InvokeFunction"
    {
        bad.push(
            "one invoke permission for secretsmanager.amazonaws.com scoped by SourceAccount"
                .to_string(),
        );
    }
    let schedules: Vec<_> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::SecretsManager::RotationSchedule")
        .collect();
    if schedules.len() != 1
        || schedules[0]["Properties"]["RotationRules"]["ScheduleExpression"]
            != json!({"Ref": "ScheduleExpression"})
    {
        bad.push("an example RotationSchedule with the ScheduleExpression parameter".to_string());
    }
    bad
}

#[test]
fn every_template_is_least_privilege() {
    for (path, t) in templates() {
        let bad = violations(&t);
        assert!(bad.is_empty(), "{}:\n{}", path.display(), bad.join("\n"));
    }
}

/// Each function may make the lookups of its engine's managed masters, and no other
/// service's: the RDS reads for PostgreSQL and MySQL, the Redshift and Redshift
/// Serverless reads for Redshift.
#[test]
fn each_template_grants_its_engines_managed_master_lookups() {
    for (path, t) in templates() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut granted = Vec::new();
        for policy in t["Resources"]["Role"]["Properties"]["Policies"]
            .as_array()
            .unwrap()
        {
            for s in statements(&policy["PolicyDocument"]) {
                granted.extend(
                    strings(&s.body["Action"])
                        .into_iter()
                        .filter_map(Value::as_str)
                        .filter(|a| is_lookup(a)),
                );
            }
        }
        granted.sort_unstable();
        let mut want = lookups_of(&name);
        want.sort_unstable();
        assert_eq!(granted, want, "{}", path.display());
    }
}

/// The positive control: the checker catches each kind of over-grant, in every template.
#[test]
fn the_policy_check_catches_over_grants() {
    for (path, t) in templates() {
        catches_over_grants(&path, &t);
    }
}

fn catches_over_grants(path: &Path, t: &Value) {
    let path = path.display();
    fn statements_path(t: &mut Value) -> &mut Vec<Value> {
        t["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array_mut()
            .unwrap()
    }
    type Mutation = (&'static str, fn(&mut Vec<Value>));
    let mutations: [Mutation; 8] = [
        ("wildcard action", |s| {
            s[0]["Action"] = json!(["secretsmanager:*"]);
        }),
        ("resource star", |s| {
            s[0]["Resource"] = json!("*");
        }),
        ("extra action", |s| {
            s[0]["Action"]
                .as_array_mut()
                .unwrap()
                .push(json!("secretsmanager:DeleteSecret"));
        }),
        ("unconditional GetRandomPassword", |s| {
            s.push(json!({"Effect": "Allow", "Action": "secretsmanager:GetRandomPassword", "Resource": "*"}));
        }),
        ("KMS without encryption context", |s| {
            let kms = s
                .iter_mut()
                .find(|x| x["Fn::If"][0] == "HasKmsKey")
                .unwrap();
            kms["Fn::If"][1]
                .as_object_mut()
                .unwrap()
                .remove("Condition");
        }),
        ("master secret unconditionally", |s| {
            s.push(json!({"Sid": "M", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "MasterSecretArn"}}));
        }),
        ("lookups on every resource, unconditionally", |s| {
            s.push(json!({"Sid": "L", "Effect": "Allow", "Action": RDS_LOOKUP, "Resource": "*"}));
        }),
        ("a write to RDS", |s| {
            s.push(
                json!({"Fn::If": ["HasMasterSecret", {"Sid": "W", "Effect": "Allow",
                "Action": ["rds:ModifyDBInstance"], "Resource": {"Fn::Sub": RDS_RESOURCES[0]}},
                {"Ref": "AWS::NoValue"}]}),
            );
        }),
    ];
    for (what, mutate) in mutations {
        let mut m = t.clone();
        mutate(statements_path(&mut m));
        assert!(!violations(&m).is_empty(), "{path}: {what} was not caught");
    }
    // Issue 19, item 7: each over-grant of the templates as they were.
    type TemplateMutation = (&'static str, fn(&mut Value));
    let template_mutations: [TemplateMutation; 9] = [
        ("SecretArn accepting every secret (.+)", |t| {
            t["Parameters"]["SecretArn"]["AllowedPattern"] =
                json!("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$");
        }),
        ("SecretArn without a pattern", |t| {
            t["Parameters"]["SecretArn"]
                .as_object_mut()
                .unwrap()
                .remove("AllowedPattern");
        }),
        ("MasterSecretArn accepting a prefix", |t| {
            t["Parameters"]["MasterSecretArn"]["AllowedPattern"] =
                json!("^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)?$");
        }),
        ("the function not told its master secret", |t| {
            t["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
                .as_object_mut()
                .unwrap()
                .remove("ROTATION_MASTER_SECRET_ARN");
        }),
        ("the VPC execution role (logs:* on *)", |t| {
            t["Resources"]["Role"]["Properties"]["ManagedPolicyArns"]["Fn::If"][1] = json!([
                {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"}
            ]);
        }),
        ("the basic execution role", |t| {
            t["Resources"]["Role"]["Properties"]["ManagedPolicyArns"] = json!([
                {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
            ]);
        }),
        ("logs:* on *", |t| {
            statements_path(t)
                .push(json!({"Sid": "L", "Effect": "Allow", "Action": "logs:*", "Resource": "*"}));
        }),
        ("logs on every log group", |t| {
            statements_path(t).push(json!({"Sid": "L", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}}));
        }),
        ("TLS prefer by default", |t| {
            t["Parameters"]["TlsMode"]["Default"] = json!("");
        }),
    ];
    for (what, mutate) in template_mutations {
        let mut m = t.clone();
        mutate(&mut m);
        assert!(!violations(&m).is_empty(), "{path}: {what} was not caught");
    }
    // The master secret read on anything but the master parameter (e.g. the rotated
    // prefix, so any secret there could be read as a master).
    let mut m = t.clone();
    for s in statements_path(&mut m).iter_mut() {
        if s["Fn::If"][0] == "HasMasterSecret" {
            s["Fn::If"][1]["Resource"] = json!({"Ref": "SecretArn"});
        }
    }
    assert!(
        !violations(&m).is_empty(),
        "{path}: the master read on SecretArn was not caught"
    );

    let mut m = t.clone();
    m["Resources"]["Function"]["Properties"]["Timeout"] = json!(3);
    assert!(
        !violations(&m).is_empty(),
        "{path}: Timeout 3 was not caught"
    );
    let mut m = t.clone();
    m["Parameters"]["RotationStrategy"]["Default"] = json!("single");
    assert!(
        !violations(&m).is_empty(),
        "{path}: an optional strategy was not caught"
    );
}

/// The engine a template deploys: its file name's stem, which names `lambdas/<engine>` and
/// `dist/<engine>/bootstrap.zip`.
fn engine_of(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The variables every engine's function reads, passed from the template's parameters.
const COMMON_VARIABLES: [(&str, &str); 6] = [
    ("ROTATION_STRATEGY", "RotationStrategy"),
    ("ROTATION_PASSWORDS", "PasswordSource"),
    ("ROTATION_TLS_MODE", "TlsMode"),
    ("ROTATION_CA_FILE", "CaFile"),
    ("EXCLUDE_CHARACTERS", "ExcludeCharacters"),
    ("PASSWORD_LENGTH", "PasswordLength"),
];

/// What differs per engine: the `EXCLUDE_CHARACTERS` default (AWS's, as the binary's),
/// the secret's `engine` values, and the variables only that engine reads.
fn engine_facts(
    engine: &str,
) -> (
    &'static str,
    Vec<&'static str>,
    Vec<(&'static str, &'static str)>,
) {
    match engine {
        "postgres" => (
            rotwise_postgres::DEFAULT_EXCLUDE_CHARACTERS,
            vec!["postgres"],
            vec![],
        ),
        "mysql" => (
            rotwise_mysql::DEFAULT_EXCLUDE_CHARACTERS,
            vec!["mysql", "aurora-mysql", "mariadb"],
            vec![(
                rotwise_mysql::ENV_USERNAME_CHARACTER_LIMIT,
                "UsernameCharacterLimit",
            )],
        ),
        "redshift" => (
            rotwise_postgres::redshift::DEFAULT_EXCLUDE_CHARACTERS,
            vec!["redshift"],
            vec![],
        ),
        other => panic!("deploy/{other}.yaml: unknown engine; add its facts to this test"),
    }
}

/// One template per Lambda and one Lambda per template, each wired to its own zip, the
/// engine's password default and every variable the binary reads.
#[test]
fn every_lambda_has_its_template() {
    let lambdas: BTreeSet<String> = std::fs::read_dir(root().join("lambdas"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let templates = templates();
    let deployed: BTreeSet<String> = templates.iter().map(|(p, _)| engine_of(p)).collect();
    assert_eq!(
        lambdas, deployed,
        "lambdas/<engine> and deploy/<engine>.yaml pair up"
    );
    assert!(lambdas.contains("postgres") && lambdas.contains("mysql"));

    for (path, t) in &templates {
        let engine = engine_of(path);
        let (exclude, engine_keys, own_variables) = engine_facts(&engine);
        let at = path.display();
        let params = &t["Parameters"];
        assert_eq!(
            params["CodeUri"]["Default"],
            format!("../dist/{engine}/bootstrap.zip"),
            "{at}: the engine's zip"
        );
        assert_eq!(
            params["ExcludeCharacters"]["Default"], exclude,
            "{at}: AWS's EXCLUDE_CHARACTERS default for the engine"
        );
        let function = &t["Resources"]["Function"]["Properties"];
        assert_eq!(
            function["FunctionName"]["Fn::Sub"],
            format!("${{AWS::StackName}}-{engine}-rotation"),
            "{at}"
        );
        let variables = &function["Environment"]["Variables"];
        for (var, param) in COMMON_VARIABLES.iter().chain(own_variables.iter()) {
            assert_eq!(variables[*var], json!({"Ref": param}), "{at}: {var}");
            assert!(params[*param].is_object(), "{at}: parameter {param}");
        }
        // Metrics: the namespace the function writes to is the one the alarm watches, on
        // the metric and dimension the function writes (rotwise_lambda::metrics).
        use rotwise_lambda::metrics::{
            DEFAULT_NAMESPACE, ENV_NAMESPACE, FAILURE_METRIC, FUNCTION_DIMENSION,
        };
        assert_eq!(
            variables[ENV_NAMESPACE],
            json!({"Ref": "MetricsNamespace"}),
            "{at}"
        );
        assert_eq!(
            params["MetricsNamespace"]["Default"], DEFAULT_NAMESPACE,
            "{at}"
        );
        assert_eq!(
            params["AlarmTopicArn"]["Default"], "",
            "{at}: the alarm is optional"
        );
        let alarm = &t["Resources"]["FailedStepsAlarm"];
        assert_eq!(alarm["Type"], "AWS::CloudWatch::Alarm", "{at}");
        assert_eq!(alarm["Condition"], "HasAlarm", "{at}");
        assert_eq!(
            t["Conditions"]["HasAlarm"],
            json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}),
            "{at}"
        );
        let a = &alarm["Properties"];
        assert_eq!(a["Namespace"], json!({"Ref": "MetricsNamespace"}), "{at}");
        assert_eq!(a["MetricName"], FAILURE_METRIC, "{at}");
        assert_eq!(
            a["Dimensions"],
            json!([{"Name": FUNCTION_DIMENSION, "Value": {"Ref": "Function"}}]),
            "{at}: the function's own dimension set"
        );
        assert_eq!(
            (&a["Statistic"], &a["Threshold"], &a["ComparisonOperator"]),
            (
                &json!("Sum"),
                &json!(1),
                &json!("GreaterThanOrEqualToThreshold")
            ),
            "{at}: one failed step alarms"
        );
        assert_eq!(a["AlarmActions"], json!([{"Ref": "AlarmTopicArn"}]), "{at}");
        assert_eq!(a["TreatMissingData"], "notBreaching", "{at}");

        // VPC: an optional Secrets Manager interface endpoint (private DNS) admitting only the
        // function's security group on 443, and an optional rule on the database's group.
        let endpoint = &t["Resources"]["SecretsManagerEndpoint"];
        assert_eq!(
            endpoint["Condition"], "CreatesSecretsManagerEndpoint",
            "{at}"
        );
        let e = &endpoint["Properties"];
        assert_eq!(e["VpcEndpointType"], "Interface", "{at}");
        assert_eq!(
            e["ServiceName"],
            json!({"Fn::Sub": "com.amazonaws.${AWS::Region}.secretsmanager"}),
            "{at}"
        );
        assert_eq!(e["PrivateDnsEnabled"], true, "{at}");
        assert_eq!(
            e["SecurityGroupIds"],
            json!([{"Ref": "SecretsManagerEndpointSecurityGroup"}]),
            "{at}"
        );
        let function_sg = json!({"Fn::Select": [0, {"Ref": "SecurityGroupIds"}]});
        let sg = &t["Resources"]["SecretsManagerEndpointSecurityGroup"];
        assert_eq!(sg["Condition"], "CreatesSecretsManagerEndpoint", "{at}");
        assert_eq!(
            sg["Properties"]["SecurityGroupIngress"],
            json!([{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                    "SourceSecurityGroupId": function_sg, "Description": "the rotation function"}]),
            "{at}: HTTPS from the function only"
        );
        let db = &t["Resources"]["DatabaseIngress"];
        assert_eq!(db["Condition"], "HasDatabaseRule", "{at}");
        assert_eq!(
            db["Properties"]["SourceSecurityGroupId"], function_sg,
            "{at}"
        );
        assert_eq!(
            db["Properties"]["FromPort"],
            json!({"Ref": "DatabasePort"}),
            "{at}"
        );
        assert_eq!(
            db["Properties"]["ToPort"],
            json!({"Ref": "DatabasePort"}),
            "{at}"
        );
        let port = match engine.as_str() {
            "postgres" => 5432,
            "mysql" => 3306,
            "redshift" => 5439,
            other => panic!("{other}: its default port"),
        };
        assert_eq!(params["DatabasePort"]["Default"], port, "{at}");
        for (condition, param) in [
            (
                "CreatesSecretsManagerEndpoint",
                "CreateSecretsManagerEndpoint",
            ),
            ("HasDatabaseRule", "DatabaseSecurityGroupId"),
        ] {
            let c = t["Conditions"][condition]["Fn::And"].to_string();
            assert!(
                c.contains("HasVpc") && c.contains(param),
                "{at}: {condition} needs a VPC and {param}: {c}"
            );
        }

        let example = &t["Resources"]["ExampleSecret"]["Properties"]["GenerateSecretString"];
        assert_eq!(
            example["ExcludeCharacters"], exclude,
            "{at}: example secret"
        );
        let template = example["SecretStringTemplate"]["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: the example secret's template"));
        let key = if engine_keys.len() == 1 {
            json!(engine_keys[0])
        } else {
            assert_eq!(
                params["ExampleEngine"]["AllowedValues"],
                json!(engine_keys),
                "{at}"
            );
            json!("${ExampleEngine}")
        };
        assert!(
            template.contains(&format!("\"engine\": {key}")),
            "{at}: the example secret's engine key: {template}"
        );
    }
}
