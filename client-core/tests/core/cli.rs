//! The `saferound` CLI, run as a person would: a real process on a real store file.

use std::process::{Command, Output};

use serde_json::Value;

struct Cli {
    store: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Cli {
            store: dir.path().join("cli.db"),
            _dir: dir,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_saferound"))
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .env("SAFEROUND_NOW", "2026-12-28T01:00:00Z")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(&a);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn an_inspection_from_the_command_line() {
    let cli = Cli::new();
    let status = cli.json(&["init", "--demo", "inspector"]);
    assert_eq!(status["roles"][0], "inspector");
    let sites = cli.json(&["sites"]);
    assert_eq!(sites.as_array().unwrap().len(), 10);
    let table = String::from_utf8(cli.run(&["templates"]).stdout).unwrap();
    assert!(table.contains("学生宿舍安全检查表"), "{table}");
    let en =
        String::from_utf8(cli.run(&["templates", "laboratory", "--lang", "en"]).stdout).unwrap();
    assert!(en.contains("LAB-01"), "{en}");

    let id = cli.json(&["inspect", "start", "--site", "食品检测实验室"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    cli.json(&["inspect", "answer", &id, "LAB-01", "pass"]);
    let photo = cli._dir.path().join("waste.jpg");
    std::fs::write(&photo, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).unwrap();
    cli.json(&[
        "inspect",
        "answer",
        &id,
        "LAB-02",
        "fail",
        "--note",
        "台账未更新",
        "--photo",
        photo.to_str().unwrap(),
    ]);
    let h = cli.json(&[
        "inspect",
        "finding",
        &id,
        "--item",
        "LAB-02",
        "--description",
        "危化品台账与库存不符",
        "--photo",
        photo.to_str().unwrap(),
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    cli.json(&["inspect", "submit", &id]);
    let hazards = cli.json(&["hazards", "--open"]);
    assert_eq!(hazards[0]["id"], h.as_str());
    assert_eq!(hazards[0]["status"], "reported");
    let doc = cli.json(&["show", &h]);
    assert_eq!(doc["kind"], "hazard");
    assert_eq!(doc["inspection"], id.as_str());

    // Misuse: a clear message and a non-zero exit, nothing written.
    let out = cli.run(&["inspect", "submit", &id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already submitted"));
    let out = cli.run(&[
        "hazard",
        "assign",
        &h,
        "--measure",
        "x",
        "--responsible",
        &saferound_core::demo::user("owner").to_string(),
        "--deadline",
        "2027-01-10",
    ]);
    assert_eq!(out.status.code(), Some(4), "not allowed");
    let out = cli.run(&["inspect", "answer", &id, "LAB-03", "maybe"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("use pass, fail or na"));
    let out = Command::new(env!("CARGO_BIN_EXE_saferound"))
        .args([
            "--store",
            cli._dir.path().join("missing.db").to_str().unwrap(),
            "hazards",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("saferound init"));
}
