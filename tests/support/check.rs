//! Checks shared by the integration tests: JSON documents against the schemas in `docs/`,
//! and every file under a folder (to grep outputs for secrets).
#![allow(dead_code)]

use std::path::Path;

/// Parses JSON text, or fails the test showing it.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

/// The validator: Debian's python3-jsonschema (a test-only dependency installed by `.ci/run`,
/// like sshd): the Rust `jsonschema` crate cost CI two minutes of compiling on its 2 cores.
/// Reads the schema's path in argv[1] and the document on stdin; checks the schema against its
/// meta-schema (exit 3), then the document (exit 1, one error per line with its path).
const VALIDATE: &str = r#"
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
cls = jsonschema.validators.validator_for(schema)
try:
    cls.check_schema(schema)
except jsonschema.exceptions.SchemaError as e:
    print(e.message, "at", "/".join(map(str, e.path)))
    sys.exit(3)
errors = sorted(cls(schema).iter_errors(json.load(sys.stdin)), key=lambda e: list(map(str, e.path)))
for e in errors:
    print(e.message, "at", "/" + "/".join(map(str, e.path)))
sys.exit(1 if errors else 0)
"#;

/// Validates `doc` against `docs/SCHEMA` (itself checked against its meta-schema).
pub fn assert_schema_valid(schema_file: &str, doc: &serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(schema_file);
    let out = schema_errors(&path, doc);
    match out {
        Ok(()) => {}
        Err((3, text)) => panic!("docs/{schema_file} is not a valid JSON Schema: {text}"),
        Err((_, text)) => panic!("document does not match docs/{schema_file}:\n{text}\n{doc:#}"),
    }
}

/// `doc` checked against the schema at `path`: Ok, or the validator's exit code and output.
pub fn schema_errors(path: &Path, doc: &serde_json::Value) -> Result<(), (i32, String)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    // Debian's python (not a pyenv or venv one first on PATH): the one python3-jsonschema is for.
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", VALIDATE])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run /usr/bin/python3 (apt install python3-jsonschema)");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(doc.to_string().as_bytes())
        .expect("write the document");
    drop(stdin);
    let out = child.wait_with_output().expect("python3 ends");
    let code = out.status.code().unwrap_or(-1);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    match code {
        0 => Ok(()),
        1 | 3 => Err((code, text)),
        _ => panic!(
            "the JSON Schema validator failed (apt install python3-jsonschema):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
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
