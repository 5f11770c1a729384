//! Seed file, state file and the binary.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use clerk_emulator::{Config, RateLimit};
use http::Method;
use serde_json::json;

use crate::common::Api;

pub(crate) fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "clerk-emulator-test-{}-{name}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

const SEED: &str = r#"{
  "instances": {
    "sk_test_emulator": {
      "users": [
        {
          "id": "user_seed1",
          "email_address": ["ada@example.com"],
          "first_name": "Ada",
          "password": "correct horse battery",
          "last_sign_in_at": 1700000000000,
          "external_accounts": [{"provider": "oauth_google", "token": "ya29.x", "scopes": ["email"]}],
          "passkeys": [{"name": "YubiKey"}]
        },
        {"id": "user_seed2", "email_address": ["bob@example.com"], "first_name": "Bob"}
      ],
      "organizations": [
        {
          "name": "Acme", "slug": "acme", "created_by": "user_seed1",
          "memberships": [{"user_id": "user_seed2", "role": "org:member"}],
          "invitations": [{"email_address": "bob@example.com", "role": "org:admin"}]
        }
      ]
    },
    "sk_live_seeded_extra": {"users": [{"username": "prod_user"}]}
  }
}"#;

#[tokio::test]
async fn seed_file_populates_instances() {
    let dir = temp_path("seed");
    let seed = dir.join("seed.json");
    std::fs::write(&seed, SEED).unwrap();
    let mut api = Api::start(Config::new().rate_limit(RateLimit::Off).seed_file(&seed)).await;
    let ada = api.get("/v1/users/user_seed1").await.ok("GetUser");
    assert_eq!(ada["last_sign_in_at"], 1_700_000_000_000_i64);
    assert_eq!(ada["passkeys"][0]["name"], "YubiKey");
    assert_eq!(ada["organization_memberships"][0]["role"], "org:admin");
    api.post(
        "/v1/users/user_seed1/verify_password",
        &json!({"password": "correct horse battery"}),
    )
    .await
    .ok("VerifyPassword");
    let tokens = api
        .get("/v1/users/user_seed1/oauth_access_tokens/oauth_google")
        .await
        .ok("GetOAuthAccessToken");
    assert_eq!(tokens[0]["token"], "ya29.x");
    let invs = api
        .get("/v1/users/user_seed2/organization_invitations")
        .await
        .ok("UsersGetOrganizationInvitations");
    assert_eq!(invs["total_count"], 1);
    assert_eq!(
        api.get("/v1/organization_memberships")
            .await
            .ok("InstanceGetOrganizationMemberships")["total_count"],
        2
    );
    api.key = "sk_live_seeded_extra".into();
    assert_eq!(
        api.get("/v1/users/count").await.ok("GetUsersCount")["total_count"],
        1
    );

    // A bad entry stops the start with a message naming it.
    std::fs::write(
        &seed,
        r#"{"users": [{"email_address": ["a@x.io"]}, {"email_address": ["A@x.io"]}]}"#,
    )
    .unwrap();
    let err = clerk_emulator::Emulator::start(Config::new().seed_file(&seed))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("users[1]") && err.to_string().contains("form_identifier_exists"),
        "{err}"
    );
    std::fs::write(&seed, r#"{"users": [{"nope": 1}]}"#).unwrap();
    let err = clerk_emulator::Emulator::start(Config::new().seed_file(&seed))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    let missing =
        clerk_emulator::Emulator::start(Config::new().seed_file(dir.join("missing.json")))
            .await
            .unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn state_file_survives_a_restart_and_holds_no_secret() {
    let dir = temp_path("state");
    let state = dir.join("state.json");
    let config = || {
        Config::new()
            .rate_limit(RateLimit::Off)
            .secret_key("sk_live_persisted_key")
            .state_file(&state)
    };
    let mut api = Api::start(config()).await;
    api.key = "sk_live_persisted_key".into();
    let u = api
        .create_user(json!({"email_address": ["keep@x.io"], "password": "correct horse battery", "totp_secret": "JBSWY3DPEHPK3PXP", "public_metadata": {"k": [1, 2]}}))
        .await;
    let id = u["id"].as_str().unwrap().to_owned();
    let org = api
        .post(
            "/v1/organizations",
            &json!({"name": "Keep", "created_by": id}),
        )
        .await
        .ok("CreateOrganization");
    api.control(
        Method::POST,
        &format!("users/{id}/external_accounts"),
        &json!({"provider": "github"}),
    )
    .await;
    let before = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    let Api { emu, .. } = api;
    emu.shutdown().await.unwrap();

    let text = std::fs::read_to_string(&state).unwrap();
    assert!(
        !text.contains("sk_live_persisted_key"),
        "the secret key must not be written"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "TOTP secrets and digests: owner only, got {mode:o}"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("state.json")],
        "no temp files left"
    );

    let mut api = Api::start(config()).await;
    api.key = "sk_live_persisted_key".into();
    let after = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    // Same data; only the port inside image URLs differs.
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        for k in ["image_url", "profile_image_url"] {
            v[k] = json!(null);
        }
        v["organization_memberships"][0]["organization"]["image_url"] = json!(null);
        v
    };
    assert_eq!(strip(&after), strip(&before));
    api.post(
        &format!("/v1/users/{id}/verify_password"),
        &json!({"password": "correct horse battery"}),
    )
    .await
    .ok("VerifyPassword");
    api.post("/v1/users", &json!({"email_address": ["keep@x.io"]}))
        .await
        .err(422, "form_identifier_exists");
    let mems = api
        .get(&format!("/v1/users/{id}/organization_memberships"))
        .await
        .ok("UsersGetOrganizationMemberships");
    assert_eq!(mems["data"][0]["organization"]["id"], org["id"]);
    let Api { emu, .. } = api;
    emu.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn binary_prints_its_address_and_writes_state_on_sigterm() {
    let dir = temp_path("bin");
    let state = dir.join("state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_clerk-emulator"))
        .args(["--listen", "127.0.0.1:0", "--rate-limit", "off", "--state"])
        .arg(&state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    assert!(!addr.ends_with(":0"), "{addr}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let created = rt.block_on(async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = r#"{"external_id":"from-binary"}"#;
        let req = format!(
            "POST /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_test_emulator\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    });
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains("from-binary"), "{text}");

    let bad = Command::new(env!("CARGO_BIN_EXE_clerk-emulator"))
        .args(["--rate-limit", "lots"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid rate limit"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `{"k": {"k": … 1 …}}`, `depth` objects deep.
fn nested_metadata(depth: usize) -> serde_json::Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!({ "k": v });
    }
    v
}

#[tokio::test]
async fn metadata_as_deep_as_the_api_accepts_survives_a_restart() {
    let dir = temp_path("deep");
    let state = dir.join("state.json");
    let config = || Config::new().rate_limit(RateLimit::Off).state_file(&state);
    let api = Api::start(config()).await;
    // The deepest body the API takes: 127 levels, the metadata object 126 of them.
    api.post(
        "/v1/users",
        &json!({"public_metadata": nested_metadata(127)}),
    )
    .await
    .err(400, "request_body_invalid");
    let deep = nested_metadata(126);
    let u = api
        .create_user(
            json!({"external_id": "deep", "public_metadata": deep, "private_metadata": deep}),
        )
        .await;
    let id = u["id"].as_str().unwrap().to_owned();
    let Api { emu, .. } = api;
    emu.shutdown().await.unwrap();

    // The snapshot puts its own levels above the user's: this file used to be refused at start.
    let api = Api::start(config()).await;
    let back = api.get(&format!("/v1/users/{id}")).await;
    assert_eq!(back.status, 200, "{}", String::from_utf8_lossy(&back.raw));
    let raw = back.body;
    assert_eq!(raw["external_id"], "deep");
    assert_eq!(raw["public_metadata"], deep);
    assert_eq!(raw["private_metadata"], deep);
    let Api { emu, .. } = api;
    emu.shutdown().await.unwrap();
    // And again: the file written by the reloaded emulator reloads too.
    let api = Api::start(config()).await;
    let count = api.get("/v1/users/count").await.ok("GetUsersCount");
    assert_eq!(count["total_count"], 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_state_file_nested_without_bound_is_refused_with_a_clear_error() {
    let dir = temp_path("hostile");
    let state = dir.join("state.json");
    let depth = 200_000;
    std::fs::write(
        &state,
        format!(
            r#"{{"version":1,"instances":{{"x":{}1{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    )
    .unwrap();
    let err = clerk_emulator::Emulator::start(Config::new().state_file(&state))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        err.to_string()
            .contains("levels deep, more than the 144 allowed"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
