//! `docker/compose.yml` ships no fixed password: every password, secret and database URL comes
//! from a `${VAR:?message}` that makes compose refuse to start while it is unset.

use std::path::PathBuf;

fn compose() -> String {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docker/compose.yml"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Compose's interpolation of `${VAR}`, `${VAR:-default}` and `${VAR:?message}` with `env`:
/// `Err(message)` where compose would refuse to start.
fn interpolate(value: &str, env: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or("unclosed ${")? + start;
        let expr = &rest[start + 2..end];
        let (name, op, arg) = match expr.find(":?").or_else(|| expr.find(":-")) {
            Some(i) => (&expr[..i], &expr[i..i + 2], &expr[i + 2..]),
            None => (expr, "", ""),
        };
        let set = env.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).filter(|v| !v.is_empty());
        match (set, op) {
            (Some(v), _) => out.push_str(v),
            (None, ":-") => out.push_str(arg),
            (None, ":?") => return Err(arg.to_string()),
            (None, _) => {}
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `KEY: value` lines whose key names a secret.
fn secret_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .filter(|(k, _)| k.contains("PASSWORD") || k.contains("SECRET") || k == "DATABASE_URL")
        .collect()
}

#[test]
fn every_secret_must_be_set_before_compose_starts() {
    let text = compose();
    let secrets = secret_lines(&text);
    let keys: Vec<&str> = secrets.iter().map(|(k, _)| k.as_str()).collect();
    for k in [
        "POSTGRES_PASSWORD",
        "DATABASE_URL",
        "OZ_ADMIN_PASSWORD",
        "OZ_WEBHOOK_SECRET",
        "MINIO_ROOT_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(keys.contains(&k), "{k} missing from compose.yml");
    }
    for (k, v) in &secrets {
        let refused = match interpolate(v, &[]) {
            Ok(value) => panic!("{k}: {v} has a value ({value:?}) without any variable set"),
            Err(message) => message,
        };
        assert!(refused.contains("set "), "{k}: the message says what to set: {refused}");
    }
    let env = [
        ("OZ_DB_PASSWORD", "db-pass"),
        ("OZ_ADMIN_PASSWORD", "admin-pass"),
        ("OZ_WEBHOOK_SECRET", "hook"),
        ("OZ_S3_SECRET_KEY", "s3-secret"),
    ];
    for (k, v) in &secrets {
        let value = interpolate(v, &env).unwrap_or_else(|e| panic!("{k}: {e}"));
        assert!(!value.is_empty(), "{k}");
    }
    assert!(
        interpolate("postgres://openoz:${OZ_DB_PASSWORD:?x}@db/openoz", &env).is_ok_and(|u| u.contains(":db-pass@"))
    );
    for fixed in ["change-me", "openoz@db", "openoz:openoz@"] {
        assert!(!text.contains(fixed), "compose.yml still holds {fixed:?}");
    }
    // The port is published: API Lite is not left open by default.
    assert!(text.contains("OZ_LITE_AUTH: ${OZ_LITE_AUTH:-token}"));
}

#[test]
fn interpolation_follows_compose() {
    assert_eq!(interpolate("a${X}b", &[]), Ok("ab".into()));
    assert_eq!(interpolate("${X:-d}", &[]), Ok("d".into()));
    assert_eq!(interpolate("${X:-d}", &[("X", "v")]), Ok("v".into()));
    assert_eq!(interpolate("${X:?set X}", &[]), Err("set X".into()));
    assert_eq!(interpolate("${X:?set X}", &[("X", "")]), Err("set X".into()));
    assert_eq!(interpolate("p://u:${X:?m}@h", &[("X", "s")]), Ok("p://u:s@h".into()));
}

#[test]
fn compose_file_is_valid_yaml() {
    // The YAML parse needs python3 with PyYAML (Debian's python3-yaml); without it this check is
    // left to the text checks above.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docker/compose.yml");
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(sorted(d['services']))", path])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            assert_eq!(
                String::from_utf8_lossy(&o.stdout).trim(),
                "['api-1', 'api-2', 'bucket', 'db', 'objects', 'worker']"
            );
        }
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named 'yaml'") => {
            eprintln!("skipping the YAML parse: PyYAML is not installed");
        }
        Ok(o) => panic!("compose.yml does not parse: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => eprintln!("skipping the YAML parse: python3: {e}"),
    }
}
