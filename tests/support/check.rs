//! Checks shared by the integration tests: JSON documents against the schemas in `docs/`,
//! and every file under a folder (to grep outputs for secrets).
#![allow(dead_code)]

use std::path::Path;

/// Parses JSON text, or fails the test showing it.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// Validates `doc` against `docs/SCHEMA` (itself checked against its meta-schema).
pub fn assert_schema_valid(schema_file: &str, doc: &serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(schema_file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema = json(&text);
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("docs/{schema_file} is not a valid JSON Schema: {e}");
    }
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "document does not match docs/{schema_file}:\n{}\n{doc:#}",
        errors.join("\n")
    );
}

/// The host `name` of a JSON report, plan or run record (its `hosts` array).
pub fn host<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["host"] == name)
        .unwrap_or_else(|| panic!("no host {name} in {report:#}"))
}

/// Every file under `dir` (recursively), as (path, text).
pub fn files_under(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((
                p.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}
