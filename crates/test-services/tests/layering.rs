//! The workspace's layering, checked: who may depend on whom (ARCHITECTURE.md, "Who may
//! depend on whom").
//!
//! The graph is read from `cargo metadata --no-deps`: each workspace package's declared
//! dependencies (`packages[].dependencies`). A dependency counts when its `kind` is null
//! (normal) or `"build"`; dev-dependencies never reach a shipped artifact and are ignored.
//! Optional dependencies count too, whether or not a feature enables them in this build:
//! an optional dependency is shipped code behind a feature flag, and the declared
//! manifest does not depend on which features `cargo metadata` happened to unify (its
//! `resolve` graph only shows the optional edges some workspace member switched on, so a
//! feature enabled only by one binary's dev-dependencies, or not at all, would slip by).
//!
//! Edges are followed transitively through normal and build dependencies, so a forbidden
//! package reached through an intermediate crate is reported with the whole path.
//!
//! The rules are the table [`RULES`]. `rotwise-dbsecret` (the database layer's old name)
//! is treated as `rotwise-db`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::process::Command;

// ------------------------------------------------------------------------------------------------
// The rules

/// A set of package names.
#[derive(Clone, Copy, Debug)]
enum Pat {
    /// Exactly this package.
    Exact(&'static str),
    /// This package, or any package whose name starts with it followed by `-`
    /// (`Family("rotwise-lambda")`: `rotwise-lambda`, `rotwise-lambda-postgres`, ...).
    Family(&'static str),
    /// Any package whose name starts with this prefix.
    Prefix(&'static str),
}

impl Pat {
    fn matches(self, name: &str) -> bool {
        match self {
            Pat::Exact(n) => name == n,
            Pat::Family(n) => {
                name == n
                    || name
                        .strip_prefix(n)
                        .is_some_and(|rest| rest.starts_with('-'))
            }
            Pat::Prefix(p) => name.starts_with(p),
        }
    }
}

/// Packages matching any of `include` and none of `exclude`.
#[derive(Clone, Copy, Debug)]
struct Set {
    include: &'static [Pat],
    exclude: &'static [Pat],
}

/// The packages matching any of `include`.
const fn any(include: &'static [Pat]) -> Set {
    Set {
        include,
        exclude: &[],
    }
}

impl Set {
    fn contains(&self, name: &str) -> bool {
        let name = canonical(name);
        self.include.iter().any(|p| p.matches(name))
            && !self.exclude.iter().any(|p| p.matches(name))
    }
}

/// One layering rule: no package of `subjects` may depend (through normal or build
/// dependencies, directly or not) on a package of `forbidden` other than itself.
#[derive(Debug)]
struct Rule {
    id: &'static str,
    subjects: Set,
    forbidden: Set,
    why: &'static str,
}

const ENGINES: &[Pat] = &[Pat::Exact("rotwise-postgres"), Pat::Exact("rotwise-mysql")];

/// The crates that end up in a shipped artifact (a Lambda zip, the `rotwise` binary) or
/// that a user's own rotator links.
const SHIPPED: Set = Set {
    include: &[
        Pat::Exact("rotwise-core"),
        Pat::Exact("rotwise-db"),
        Pat::Exact("rotwise-managed"),
        Pat::Exact("rotwise-postgres"),
        Pat::Exact("rotwise-mysql"),
        Pat::Exact("rotwise-cli"),
        Pat::Family("rotwise-lambda"),
    ],
    exclude: &[Pat::Exact("rotwise-lambda-testkit")],
};

const RULES: &[Rule] = &[
    Rule {
        id: "core-stands-alone",
        subjects: any(&[Pat::Exact("rotwise-core")]),
        forbidden: any(&[Pat::Prefix("rotwise-")]),
        why: "rotwise-core depends on no other rotwise crate",
    },
    Rule {
        id: "engines-are-independent",
        subjects: any(ENGINES),
        forbidden: any(&[
            Pat::Exact("rotwise-postgres"),
            Pat::Exact("rotwise-mysql"),
            Pat::Family("rotwise-lambda"),
            Pat::Exact("rotwise-cli"),
        ]),
        why: "an engine depends on core and db only: never on another engine, a Lambda crate or the CLI",
    },
    Rule {
        id: "no-test-infrastructure-in-shipped-crates",
        subjects: SHIPPED,
        forbidden: any(&[
            Pat::Exact("rotwise-testkit"),
            Pat::Exact("rotwise-test-services"),
            Pat::Exact("rotwise-lambda-testkit"),
        ]),
        why: "shipped crates keep the test kits in [dev-dependencies] (an optional feature counts as shipped)",
    },
    Rule {
        id: "cli-without-lambda",
        subjects: any(&[Pat::Exact("rotwise-cli")]),
        forbidden: any(&[Pat::Exact("rotwise-lambda")]),
        why: "the CLI reads the environment through rotwise-core and rotwise-db, not rotwise-lambda",
    },
    Rule {
        id: "managed-without-engines",
        subjects: any(&[Pat::Exact("rotwise-managed")]),
        forbidden: any(&[
            Pat::Exact("rotwise-postgres"),
            Pat::Exact("rotwise-mysql"),
            Pat::Family("rotwise-lambda"),
            Pat::Exact("rotwise-cli"),
        ]),
        why: "rotwise-managed answers rotwise-db's Locator from the AWS APIs: it knows no engine, Lambda crate or CLI",
    },
    Rule {
        id: "lambda-without-engines",
        subjects: any(&[Pat::Exact("rotwise-lambda")]),
        forbidden: any(ENGINES),
        why: "rotwise-lambda is engine-neutral; each lambdas/<engine> binary adds its engine",
    },
];

/// Old names still accepted for a package the rules name by its new name.
const ALIASES: &[(&str, &str)] = &[("rotwise-dbsecret", "rotwise-db")];

fn canonical(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(old, _)| *old == name)
        .map_or(name, |(_, new)| new)
}

// ------------------------------------------------------------------------------------------------
// The graph and the checker

/// How a package depends on another (only the kinds that reach the artifact).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    to: String,
    /// `build-dependency` rather than a normal one.
    build: bool,
    /// Declared `optional = true` (enabled by a feature).
    optional: bool,
}

/// Workspace packages and their normal and build dependencies on other workspace packages.
#[derive(Debug, Default)]
struct Graph {
    packages: BTreeMap<String, Vec<Edge>>,
}

impl Graph {
    /// Reads `cargo metadata --format-version 1` output (with or without `--no-deps`):
    /// every workspace member's dependencies on other workspace members, dev ones left out.
    fn from_metadata(metadata: &serde_json::Value) -> Result<Graph, String> {
        let members: BTreeSet<&str> = metadata["workspace_members"]
            .as_array()
            .ok_or("cargo metadata: no workspace_members array")?
            .iter()
            .filter_map(|m| m.as_str())
            .collect();
        let packages = metadata["packages"]
            .as_array()
            .ok_or("cargo metadata: no packages array")?;
        let workspace: Vec<&serde_json::Value> = packages
            .iter()
            .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
            .collect();
        let names: BTreeSet<&str> = workspace
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        let mut graph = Graph::default();
        for p in workspace {
            let name = p["name"]
                .as_str()
                .ok_or("cargo metadata: a package without a name")?;
            let mut edges = Vec::new();
            for d in p["dependencies"].as_array().into_iter().flatten() {
                let build = match d["kind"].as_str() {
                    None => false,
                    Some("build") => true,
                    Some(_) => continue, // "dev"
                };
                let Some(to) = d["name"].as_str() else {
                    continue;
                };
                // A workspace package is a path dependency (no registry source).
                if !names.contains(to) || !d["source"].is_null() {
                    continue;
                }
                edges.push(Edge {
                    to: to.to_owned(),
                    build,
                    optional: d["optional"].as_bool().unwrap_or(false),
                });
            }
            edges.sort();
            edges.dedup();
            graph.packages.insert(name.to_owned(), edges);
        }
        Ok(graph)
    }

    /// The shortest dependency path from `from` to every package it reaches.
    fn reachable(&self, from: &str) -> BTreeMap<String, Vec<(String, Edge)>> {
        let mut paths: BTreeMap<String, Vec<(String, Edge)>> = BTreeMap::new();
        let mut queue = VecDeque::from([from.to_owned()]);
        while let Some(at) = queue.pop_front() {
            let path_here = paths.get(&at).cloned().unwrap_or_default();
            for e in self.packages.get(&at).into_iter().flatten() {
                if e.to == from || paths.contains_key(&e.to) {
                    continue;
                }
                let mut p = path_here.clone();
                p.push((at.clone(), e.clone()));
                paths.insert(e.to.clone(), p);
                queue.push_back(e.to.clone());
            }
        }
        paths
    }
}

/// One forbidden dependency: the rule and the path from the subject to the forbidden package.
#[derive(Debug)]
struct Violation {
    rule: &'static str,
    why: &'static str,
    from: String,
    to: String,
    path: Vec<(String, Edge)>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {} -> {}", self.rule, self.from, self.to)?;
        let hops: Vec<String> = self
            .path
            .iter()
            .map(|(at, e)| {
                let how = match (e.build, e.optional) {
                    (false, false) => "",
                    (false, true) => " (optional dependency, behind a feature)",
                    (true, false) => " (build-dependency)",
                    (true, true) => " (optional build-dependency)",
                };
                format!("{at} -> {}{how}", e.to)
            })
            .collect();
        if self.path.len() > 1 || self.path.iter().any(|(_, e)| e.build || e.optional) {
            write!(f, " via {}", hops.join(", "))?;
        }
        write!(f, ": {}", self.why)
    }
}

/// Every violation of `rules` in `graph`, sorted by rule, subject and target.
fn check(graph: &Graph, rules: &[Rule]) -> Vec<Violation> {
    let mut out = Vec::new();
    for rule in rules {
        for from in graph.packages.keys().filter(|p| rule.subjects.contains(p)) {
            for (to, path) in graph.reachable(from) {
                if canonical(&to) != canonical(from) && rule.forbidden.contains(&to) {
                    out.push(Violation {
                        rule: rule.id,
                        why: rule.why,
                        from: from.clone(),
                        to,
                        path,
                    });
                }
            }
        }
    }
    out
}

/// Packages the rules name exactly that the graph lacks (a rename the table missed would
/// otherwise make a rule check nothing).
fn missing_subjects(graph: &Graph, rules: &[Rule]) -> Vec<&'static str> {
    let present: BTreeSet<&str> = graph.packages.keys().map(|n| canonical(n)).collect();
    let mut missing: BTreeSet<&'static str> = BTreeSet::new();
    for rule in rules {
        for p in rule.subjects.include {
            if let Pat::Exact(n) = p
                && !present.contains(n)
            {
                missing.insert(n);
            }
        }
    }
    missing.into_iter().collect()
}

fn report(violations: &[Violation]) -> String {
    let mut s = format!(
        "{} forbidden dependency edge(s) (the rules: ARCHITECTURE.md, \"Who may depend on whom\"; \
         the table: RULES in crates/test-services/tests/layering.rs):\n",
        violations.len()
    );
    for v in violations {
        s.push_str(&format!("  {v}\n"));
    }
    s
}

// ------------------------------------------------------------------------------------------------
// The tests

fn workspace_metadata() -> serde_json::Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?} metadata: {e}"));
    assert!(
        out.status.success(),
        "cargo metadata failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata printed invalid JSON")
}

#[test]
fn the_workspace_keeps_its_layers() {
    let graph = Graph::from_metadata(&workspace_metadata()).expect("read cargo metadata");
    let missing = missing_subjects(&graph, RULES);
    assert!(
        missing.is_empty(),
        "the layering rules name packages that are not in the workspace: {missing:?}; \
         a crate was renamed: update RULES (or ALIASES) in crates/test-services/tests/layering.rs"
    );
    let violations = check(&graph, RULES);
    assert!(violations.is_empty(), "{}", report(&violations));
}

/// Builds a graph from `(from, to, kind)` triples, `kind` as in cargo metadata
/// (`None` normal, `Some("build")`, `Some("dev")`); `optional` marks the edge optional.
fn synthetic(edges: &[(&str, &str, Option<&str>, bool)], extra: &[&str]) -> Graph {
    let mut names: BTreeSet<&str> = extra.iter().copied().collect();
    for (from, to, _, _) in edges {
        names.insert(from);
        names.insert(to);
    }
    let packages: Vec<serde_json::Value> = names
        .iter()
        .map(|n| {
            let deps: Vec<serde_json::Value> = edges
                .iter()
                .filter(|(from, ..)| from == n)
                .map(|(_, to, kind, optional)| {
                    serde_json::json!({
                        "name": to, "source": null, "kind": kind, "optional": optional,
                        "req": "*", "rename": null, "target": null, "path": format!("/ws/{to}"),
                    })
                })
                .collect();
            serde_json::json!({ "name": n, "id": format!("path+file:///ws/{n}#0.1.0"), "dependencies": deps })
        })
        .collect();
    let members: Vec<String> = names
        .iter()
        .map(|n| format!("path+file:///ws/{n}#0.1.0"))
        .collect();
    let metadata =
        serde_json::json!({ "packages": packages, "workspace_members": members, "resolve": null });
    Graph::from_metadata(&metadata).expect("synthetic metadata")
}

/// The target layering of issue 17, as a synthetic graph: no rule fires.
const CLEAN: &[(&str, &str, Option<&str>, bool)] = &[
    ("rotwise-db", "rotwise-core", None, false),
    ("rotwise-managed", "rotwise-db", None, false),
    (
        "rotwise-managed",
        "rotwise-test-services",
        Some("dev"),
        false,
    ),
    ("rotwise-lambda-postgres", "rotwise-managed", None, false),
    ("rotwise-postgres", "rotwise-core", None, false),
    ("rotwise-postgres", "rotwise-db", None, false),
    ("rotwise-postgres", "rotwise-testkit", Some("dev"), false),
    ("rotwise-mysql", "rotwise-core", None, false),
    ("rotwise-mysql", "rotwise-db", None, false),
    ("rotwise-mysql", "rotwise-test-services", Some("dev"), false),
    ("rotwise-lambda", "rotwise-core", None, false),
    (
        "rotwise-lambda",
        "rotwise-lambda-testkit",
        Some("dev"),
        false,
    ),
    ("rotwise-lambda-postgres", "rotwise-lambda", None, false),
    ("rotwise-lambda-postgres", "rotwise-postgres", None, false),
    (
        "rotwise-lambda-postgres",
        "rotwise-lambda-testkit",
        Some("dev"),
        false,
    ),
    ("rotwise-lambda-testkit", "rotwise-testkit", None, false),
    ("rotwise-lambda-testkit", "rotwise-lambda", None, false),
    ("rotwise-testkit", "rotwise-core", None, false),
    ("rotwise-cli", "rotwise-core", None, false),
    ("rotwise-cli", "rotwise-db", None, false),
    ("rotwise-cli", "rotwise-postgres", None, false),
    ("rotwise-cli", "rotwise-mysql", None, false),
    ("rotwise-cli", "rotwise-testkit", Some("dev"), false),
    ("rotwise-example-template", "rotwise-core", None, false),
    (
        "rotwise-example-template",
        "rotwise-testkit",
        Some("dev"),
        false,
    ),
];

#[test]
fn the_checker_flags_forbidden_edges_in_a_synthetic_graph() {
    // The clean graph passes, and names every package the rules name exactly.
    let clean = synthetic(CLEAN, &[]);
    let v = check(&clean, RULES);
    assert!(v.is_empty(), "the clean graph should pass:\n{}", report(&v));
    assert_eq!(missing_subjects(&clean, RULES), Vec::<&str>::new());

    // Add one forbidden edge per rule (and a couple of ways of hiding one).
    let mut edges = CLEAN.to_vec();
    edges.extend_from_slice(&[
        ("rotwise-core", "rotwise-db", None, false), // core-stands-alone
        ("rotwise-mysql", "rotwise-postgres", None, false), // engines-are-independent
        ("rotwise-postgres", "rotwise-lambda", Some("build"), false), // a build dependency counts
        ("rotwise-lambda", "rotwise-testkit", None, true), // an optional feature counts
        ("rotwise-cli", "rotwise-lambda", None, false), // cli-without-lambda
        ("rotwise-lambda", "rotwise-mysql", None, false), // lambda-without-engines
        ("rotwise-managed", "rotwise-postgres", None, false), // managed-without-engines
        ("rotwise-lambda-mysql", "rotwise-mysql", None, false),
        ("rotwise-lambda-mysql", "rotwise-lambda", None, false),
    ]);
    let dirty = synthetic(&edges, &[]);
    let found: BTreeSet<(&str, String, String)> = check(&dirty, RULES)
        .into_iter()
        .map(|v| (v.rule, v.from, v.to))
        .collect();
    let expect = |rule: &str, from: &str, to: &str| {
        assert!(
            found.contains(&(rule, from.to_owned(), to.to_owned())),
            "expected [{rule}] {from} -> {to}; found {found:#?}"
        );
    };
    expect("core-stands-alone", "rotwise-core", "rotwise-db");
    expect(
        "engines-are-independent",
        "rotwise-mysql",
        "rotwise-postgres",
    );
    expect(
        "engines-are-independent",
        "rotwise-postgres",
        "rotwise-lambda",
    );
    expect(
        "no-test-infrastructure-in-shipped-crates",
        "rotwise-lambda",
        "rotwise-testkit",
    );
    expect("cli-without-lambda", "rotwise-cli", "rotwise-lambda");
    expect("lambda-without-engines", "rotwise-lambda", "rotwise-mysql");
    expect(
        "managed-without-engines",
        "rotwise-managed",
        "rotwise-postgres",
    );
    // Transitive: the CLI and a Lambda binary reach the test kit through rotwise-lambda's
    // optional dependency; rotwise-lambda reaches the other engine through rotwise-mysql.
    expect(
        "lambda-without-engines",
        "rotwise-lambda",
        "rotwise-postgres",
    );
    expect(
        "no-test-infrastructure-in-shipped-crates",
        "rotwise-cli",
        "rotwise-testkit",
    );
    expect(
        "no-test-infrastructure-in-shipped-crates",
        "rotwise-lambda-mysql",
        "rotwise-testkit",
    );
    // rotwise-lambda-testkit is not shipped: its normal dependency on the test kit is fine.
    assert!(
        !found
            .iter()
            .any(|(_, from, _)| from == "rotwise-lambda-testkit"),
        "rotwise-lambda-testkit is exempt: {found:#?}"
    );

    // The message names the rule, both ends and the path.
    let text = report(&check(&dirty, RULES));
    assert!(
        text.contains(
            "[no-test-infrastructure-in-shipped-crates] rotwise-cli -> rotwise-testkit via \
             rotwise-cli -> rotwise-lambda, rotwise-lambda -> rotwise-testkit (optional dependency, behind a feature)"
        ),
        "{text}"
    );
    assert!(
        text.contains("[core-stands-alone] rotwise-core -> rotwise-db: "),
        "{text}"
    );
}

#[test]
fn the_checker_treats_rotwise_dbsecret_as_rotwise_db_and_ignores_dev_dependencies() {
    // The old name satisfies "rotwise-db exists" and is bound by core's rule like the new one.
    let g = synthetic(
        &[
            ("rotwise-dbsecret", "rotwise-core", None, false),
            ("rotwise-core", "rotwise-dbsecret", Some("dev"), false),
            ("rotwise-mysql", "rotwise-dbsecret", None, false),
            ("rotwise-mysql", "rotwise-testkit", Some("dev"), false),
        ],
        &[
            "rotwise-postgres",
            "rotwise-lambda",
            "rotwise-cli",
            "rotwise-managed",
        ],
    );
    assert_eq!(missing_subjects(&g, RULES), Vec::<&str>::new());
    let v = check(&g, RULES);
    assert!(
        v.is_empty(),
        "dev-dependencies do not count:\n{}",
        report(&v)
    );

    let g = synthetic(&[("rotwise-core", "rotwise-dbsecret", None, false)], &[]);
    let v = check(&g, RULES);
    assert_eq!(v.len(), 1, "{}", report(&v));
    assert_eq!(
        (v[0].rule, v[0].to.as_str()),
        ("core-stands-alone", "rotwise-dbsecret")
    );
    // A rule naming a package the workspace lacks is reported, so a rename cannot silence it.
    assert!(missing_subjects(&g, RULES).contains(&"rotwise-cli"));
}
