//! The OpenAPI 3.1 description of the API, served at `GET /api/v1/openapi.json`.
//!
//! The document is data (`openapi.json` beside this file, edited by hand),
//! not code: kept as text, it costs the Workers a few kilobytes instead of
//! the code that would build it. Tests check that it parses, that its paths
//! and methods are exactly [`super::ROUTES`], and that every schema it
//! refers to exists.

use serde_json::Value;

/// The document's text; `info.version` is filled in by [`document`].
const TEXT: &str = include_str!("openapi.json");

/// The OpenAPI document, with this build's version.
pub fn document() -> Value {
    // Parsed on each request for it (rare); a test keeps the text valid.
    let mut doc: Value = serde_json::from_str(TEXT).unwrap_or_default();
    if let Some(info) = doc.get_mut("info").and_then(Value::as_object_mut) {
        info.insert("version".into(), Value::from(env!("CARGO_PKG_VERSION")));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_text_parses_and_carries_this_version() {
        assert!(serde_json::from_str::<Value>(TEXT).is_ok());
        let doc = document();
        assert_eq!(
            (doc["openapi"].as_str(), doc["info"]["version"].as_str()),
            (Some("3.1.0"), Some(env!("CARGO_PKG_VERSION")))
        );
    }

    #[test]
    fn paths_and_methods_are_the_route_table() {
        let doc = document();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let table: BTreeSet<_> =
            crate::api::ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
        assert_eq!(documented, table);
    }

    #[test]
    fn every_reference_resolves_and_every_tag_is_declared() {
        let doc = document();
        let text = doc.to_string();
        for piece in text.split("\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(doc["components"]["schemas"].get(name).is_some(), "missing schema {name}");
        }
        let declared: BTreeSet<&str> =
            doc["tags"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
        for item in doc["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                for tag in operation["tags"].as_array().unwrap() {
                    assert!(declared.contains(tag.as_str().unwrap()), "undeclared tag {tag}");
                }
            }
        }
    }
}
