//! Layering of loyalty-core: no import cycle among its top-level modules.
//!
//! Reads the crate's sources, records for every top-level module (`engine`,
//! `bots`, `ports`, …) which other top-level modules its code names through
//! `crate::…` paths (comments and doc links are not imports), and fails with
//! the cycle when the graph has one. `lib.rs`, the root, is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules named by `crate::` paths in `code` (comments removed).
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first segment of each top-level item.
            let (mut depth, mut item_start, mut end) = (0usize, true, group.len());
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = i;
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        let word: String =
                            group[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        names.insert(word);
                        item_start = false;
                    }
                    _ => {}
                }
            }
            rest = &group[end..];
        } else {
            let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            names.insert(word);
        }
    }
    names
}

fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a component").as_os_str().to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let code = without_comments(&std::fs::read_to_string(&file).expect("read source"));
        let edges = graph.entry(module.clone()).or_default();
        for name in named_modules(&code) {
            // Items re-exported at the root (`crate::Error`, `crate::Result`) are not modules.
            if name != module && name.starts_with(|c: char| c.is_lowercase()) {
                edges.insert(name);
            }
        }
    }
    graph
}

/// A cycle in `graph`, as the path of modules that closes it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_reader_sees_imports_and_not_comments() {
    let code = without_comments(
        "use crate::domain::BotKind;\nuse crate::{context::{Context, Outbox}, error};\n\
         // crate::engine in a comment\nlet x = crate::jobs::run(); /// [`a`](crate::api)",
    );
    let names: Vec<_> = named_modules(&code).into_iter().collect();
    assert_eq!(names, ["context", "domain", "error", "jobs"]);
    let cyclic = BTreeMap::from([
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]);
    assert_eq!(find_cycle(&cyclic), Some(vec!["a".into(), "b".into(), "a".into()]));
}

#[test]
fn loyalty_core_modules_have_no_import_cycle() {
    let graph = module_graph();
    assert!(graph.contains_key("engine") && graph.contains_key("ports"), "the reader found the modules: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle among loyalty-core's modules: {}\n(graph: {graph:#?})", cycle.join(" → "));
    }
}
