//! The studio serves only files under the runs directory, binds to localhost by default,
//! refuses plans inside the runs directory and shows no absolute path.

use crate::{get, request, world};

#[test]
fn traversal_is_refused_with_exact_status_codes() {
    let w = world();
    // `..` as written, percent-encoded (either case), an encoded slash, an absolute path, an
    // empty segment: 400 before anything is read.
    for path in [
        "/runs/fixture/files/../../../etc/passwd",
        "/runs/fixture/files/report/../../../../etc/passwd",
        "/runs/fixture/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/runs/fixture/files/%2E%2E/spec.toml",
        "/runs/fixture/files/..%2f..%2fetc%2fpasswd",
        "/runs/fixture/files/%2fetc%2fpasswd",
        "/runs/fixture/files//etc/passwd",
        "/runs/fixture/files/./spec.toml",
        "/runs/../files/x",
        "/runs/%2e%2e/files/etc/passwd",
        "/api/runs/%2e%2e",
        "/api/runs/..",
        "/api/runs/.hidden",
        "/api/runs/a%2fb",
        "/runs/fixture/files/%zz",
    ] {
        let r = get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(!r.text().contains("root:"), "{path}");
    }
    // A symlink out of the runs directory: 403, and the linked file is not sent.
    let r = get("/runs/linked/files/report/secret.html");
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!r.text().contains("secret</p>"));
    // A run that is a symlink to a directory outside: 403 for its page and its files.
    assert_eq!(get("/api/runs/escape").status, 403);
    assert_eq!(get("/runs/escape/files/report/report.html").status, 403);
    // A file that does not exist: 404; a kind of file the studio does not serve (manifests
    // record absolute paths): 403.
    assert_eq!(get("/runs/fixture/files/report/nothing.html").status, 404);
    assert_eq!(get("/runs/fixture/files/fit/manifest.json").status, 403);
    assert_eq!(get("/runs/fixture/files/spec.toml").status, 403);
    assert_eq!(get("/api/runs/no-such-run").status, 404);
    // Only GET and POST.
    assert_eq!(request("DELETE", "/api/runs/fixture", None).status, 405);
    // The real report is served, with a policy that loads nothing.
    let r = get("/runs/fixture/files/report/report.html");
    assert_eq!(r.status, 200);
    assert!(r.headers.contains("content-type: text/html"));
    assert!(
        r.headers
            .contains("content-security-policy: default-src 'none'")
    );
    assert!(r.text().contains("<html"));
    assert!(!r.text().contains(&w.dir.path().display().to_string()));
}

#[test]
fn no_absolute_path_in_any_response() {
    let w = world();
    let root = w.dir.path().canonicalize().expect("canonical");
    let secret = [
        w.dir.path().display().to_string(),
        root.display().to_string(),
    ];
    let plan = serde_json::json!({ "horizon": 4, "spend": { "x1": 1000.0, "x2": 1000.0 } });
    for r in [
        get("/api/runs"),
        get("/api/runs/fixture"),
        get("/api/runs/broken"),
        get("/api/compare/fixture/fixture-b"),
        crate::post("/api/runs/fixture/scenario", &plan),
        crate::post("/api/runs/broken/scenario", &plan),
        get("/"),
        get("/assets/app.js"),
    ] {
        let text = r.text();
        for s in &secret {
            assert!(!text.contains(s.as_str()), "a response shows {s}: {text}");
        }
    }
}

#[test]
fn binds_localhost_by_default_and_keeps_plans_out_of_runs() {
    let w = world();
    let config = mmm_studio::StudioConfig::new(w.runs());
    assert_eq!(config.bind.to_string(), "127.0.0.1");
    assert_eq!(config.plans, w.dir.path().join("plans"));
    let mut inside = config.clone();
    inside.plans = w.runs().join("plans");
    inside.port = 0;
    let e = mmm_studio::Studio::bind(&inside).expect_err("plans inside the runs");
    assert!(e.to_string().contains("outside the runs directory"), "{e}");
    assert!(!w.runs().join("plans").exists());
    let mut missing = config;
    missing.runs = w.dir.path().join("no-runs-here");
    missing.port = 0;
    assert!(mmm_studio::Studio::bind(&missing).is_err());
}

#[test]
fn the_app_is_served_with_its_assets_and_a_strict_policy() {
    let r = get("/");
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .contains("content-security-policy: default-src 'none'; script-src 'self'")
    );
    let page = r.text();
    assert!(
        page.contains("/assets/app.js") && !page.contains("http://") && !page.contains("https://")
    );
    assert_eq!(get("/assets/app.js").status, 200);
    assert_eq!(get("/assets/app.css").status, 200);
    assert_eq!(get("/assets/other.js").status, 404);
}
