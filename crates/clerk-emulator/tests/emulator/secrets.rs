//! Passwords (plain and every import hasher), TOTP, backup codes and the MFA deletes.

use serde_json::json;

use crate::common::Api;

/// One digest per hasher Clerk accepts, each from the hasher's own test vectors or generated
/// with the reference implementation (the same vectors as the crypto module's tests).
const DIGESTS: &[(&str, &str, &str)] = &[
    (
        "argon2i",
        "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
        "password",
    ),
    (
        "argon2id",
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "password",
    ),
    (
        "bcrypt",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
    ),
    (
        "bcrypt_sha256_django",
        "bcrypt_sha256$$2b$12$LZSJchsWG/DrBy1erNs4eeYo6tZNlLFQmONdxN9HPesa1EyXVcTXK",
        "ExjGmyUT73bFoT",
    ),
    (
        "ldap_ssha",
        "{SSHA}DkMTwBl+a/3DQTxCYEApdUtNXGgdUac3",
        "secret",
    ),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf99", "password"),
    (
        "md5_phpass",
        "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0",
        "test12345",
    ),
    (
        "pbkdf2_sha1",
        "pbkdf2_sha1$4096$salt$4b007901b765489abead49d926f721d065a429c1",
        "password",
    ),
    (
        "pbkdf2_sha256",
        "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ",
        "password",
    ),
    (
        "pbkdf2_sha256_django",
        "pbkdf2_sha256$24000$KQ8zeK6wKRuR$cmhbSt1XVKuO4FGd9+AX8qSBD4Z0395nZatXTJpEtTY=",
        "ExjGmyUT73bFoT",
    ),
    (
        "pbkdf2_sha512",
        "pbkdf2_sha512$1000$NaClNaCl$547c5c840c405d28109de071e534ae1c122c51f286699ed4b8c5531892d26d55f0cee45e278130004bc458dd4fba5395ee6bfeb5a0eac5d28322ceca179b8015",
        "correct horse",
    ),
    (
        "pbkdf2_sha512_hex",
        "pbkdf2_sha512_hex$1000$a1b2c3d4e5f60718$39d7500e0845dd7761d70bb09ffb1f043e752c5e778ada015e209d5dc6ed8adc37c8a501a3f660e4288aa58d73811665856f0253770ca340951868d237e900fe",
        "correct horse",
    ),
    ("phpass", "$P$FiS0N5L672xzQx1rt1vgdJQRYKnQM9/", "compL3X!"),
    (
        "scrypt_firebase",
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==$Bw==$8$14",
        "user1password",
    ),
    (
        "scrypt_werkzeug",
        "scrypt:2048:4:1$Wk3xYvA9QnR2tLpz$fc664b145580ff4813f54da383a6f293daff7eab715612f8382eb77dcec5b4cf47dda2f31e3fc76e37fd3162ec8ad1e466355f20f221d86e47a5a554f97ca5d1",
        "correct horse",
    ),
    (
        "sha256",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "test",
    ),
    (
        "sha512_symfony",
        "sha512_symfony$5000$c0ffee42$MHYzP59HgwppZhatKwHrZummlqYRYZvZwv8YeCjTx+WpOz9Q4OQ0dHHWt/Svoj5eMjSDdP6AhArjvDmDbdiegg==",
        "correct horse",
    ),
];

#[tokio::test]
async fn every_hasher_imports_and_verifies_over_http() {
    let api = Api::unlimited().await;
    let mut covered: Vec<&str> = DIGESTS.iter().map(|d| d.0).collect();
    covered.sort();
    let mut supported = clerk_emulator::passwords::SUPPORTED_HASHERS.to_vec();
    supported.sort();
    assert_eq!(covered, supported, "one vector per supported hasher");
    for (i, (hasher, digest, password)) in DIGESTS.iter().enumerate() {
        let u = api
            .create_user(json!({"external_id": format!("imp{i}"), "password_digest": digest, "password_hasher": hasher}))
            .await;
        assert_eq!(u["password_enabled"], true, "{hasher}");
        let path = format!("/v1/users/{}/verify_password", u["id"].as_str().unwrap());
        let ok = api
            .post(&path, &json!({"password": password}))
            .await
            .ok("VerifyPassword");
        assert_eq!(ok, json!({"verified": true}), "{hasher}");
        let e = api
            .post(&path, &json!({"password": format!("{password}x")}))
            .await
            .err(422, "form_password_incorrect");
        assert_eq!(e["meta"]["param_name"], "password", "{hasher}");
    }
}

#[tokio::test]
async fn password_rules_and_plain_passwords() {
    let api = Api::unlimited().await;
    let e = api
        .post("/v1/users", &json!({"password": "short"}))
        .await
        .err(422, "form_password_length_too_short");
    assert_eq!(e["meta"]["param_name"], "password");
    api.post("/v1/users", &json!({"password": "password123"}))
        .await
        .err(422, "form_password_pwned");
    api.post("/v1/users", &json!({"password": "x".repeat(73)}))
        .await
        .err(422, "form_password_length_too_long");
    let weak = api
        .create_user(json!({"password": "short", "skip_password_checks": true}))
        .await;
    let path = format!("/v1/users/{}/verify_password", weak["id"].as_str().unwrap());
    api.post(&path, &json!({"password": "short"}))
        .await
        .ok("VerifyPassword");

    // Digest errors.
    api.post(
        "/v1/users",
        &json!({"password_digest": "nothex", "password_hasher": "md5"}),
    )
    .await
    .err(422, "form_password_digest_invalid");
    let e = api
        .post("/v1/users", &json!({"password_digest": "5f4dcc3b5aa765d61d8327deb882cf99", "password_hasher": "rot13"}))
        .await
        .err(422, "form_password_digest_invalid");
    assert_eq!(e["meta"]["param_name"], "password_hasher");
    api.post(
        "/v1/users",
        &json!({"password_digest": "5f4dcc3b5aa765d61d8327deb882cf99"}),
    )
    .await
    .err(422, "form_param_missing");
    api.post("/v1/users", &json!({"password_hasher": "md5"}))
        .await
        .err(422, "form_param_missing");

    // No password: 400; unknown user: 404; missing field: 422; changing it on update works.
    let none = api.create_user(json!({"first_name": "NoPw"})).await;
    assert_eq!(none["password_enabled"], false);
    assert_eq!(none["password_last_updated_at"], json!(null));
    let id = none["id"].as_str().unwrap();
    let vp = format!("/v1/users/{id}/verify_password");
    api.post(&vp, &json!({"password": "whatever1"}))
        .await
        .err(400, "password_not_set");
    api.post(&vp, &json!({}))
        .await
        .err(422, "form_param_missing");
    api.post(
        "/v1/users/user_nope/verify_password",
        &json!({"password": "whatever1"}),
    )
    .await
    .err(404, "resource_not_found");
    let up = api
        .patch(
            &format!("/v1/users/{id}"),
            &json!({"password": "brand new secret"}),
        )
        .await
        .ok("UpdateUser");
    assert_eq!(up["password_enabled"], true);
    assert!(up["password_last_updated_at"].is_i64());
    api.post(&vp, &json!({"password": "brand new secret"}))
        .await
        .ok("VerifyPassword");
    api.post(&vp, &json!({"password": "Brand new secret"}))
        .await
        .err(422, "form_password_incorrect");
    api.patch(
        &format!("/v1/users/{id}"),
        &json!({"password_digest": "5f4dcc3b5aa765d61d8327deb882cf99", "password_hasher": "md5"}),
    )
    .await
    .ok("UpdateUser");
    api.post(&vp, &json!({"password": "password"}))
        .await
        .ok("VerifyPassword");
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[tokio::test]
async fn totp_and_backup_codes_flow() {
    let api = Api::unlimited().await;
    const SECRET: &str = "JBSWY3DPEHPK3PXP";
    let bcrypt_code = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"; // "U*U"
    let u = api
        .create_user(json!({"totp_secret": SECRET, "backup_codes": ["plain-1", bcrypt_code]}))
        .await;
    assert_eq!(u["totp_enabled"], true);
    assert_eq!(u["backup_code_enabled"], true);
    assert_eq!(u["two_factor_enabled"], true);
    assert!(u["mfa_enabled_at"].is_i64());
    let id = u["id"].as_str().unwrap().to_owned();
    let vt = format!("/v1/users/{id}/verify_totp");

    let code = clerk_emulator::totp::generate_totp(SECRET, unix_now()).unwrap();
    let r = api.post(&vt, &json!({"code": code})).await.ok("VerifyTOTP");
    assert_eq!(r, json!({"verified": true, "code_type": "totp"}));
    // One step of skew either way is accepted; three is not.
    let prev = clerk_emulator::totp::generate_totp(SECRET, unix_now() - 30).unwrap();
    api.post(&vt, &json!({"code": prev})).await.ok("VerifyTOTP");
    let old = clerk_emulator::totp::generate_totp(SECRET, unix_now() - 120).unwrap();
    if old != code && old != prev {
        api.post(&vt, &json!({"code": old}))
            .await
            .err(422, "form_code_incorrect");
    }

    // Backup codes, plain and bcrypt, are consumed on use.
    let r = api
        .post(&vt, &json!({"code": "plain-1"}))
        .await
        .ok("VerifyTOTP");
    assert_eq!(r["code_type"], "backup_code");
    api.post(&vt, &json!({"code": "plain-1"}))
        .await
        .err(422, "form_code_incorrect");
    api.post(&vt, &json!({"code": "U*U"}))
        .await
        .ok("VerifyTOTP");
    api.post(&vt, &json!({"code": "U*U"}))
        .await
        .err(422, "form_code_incorrect");
    let after = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    assert_eq!(after["backup_code_enabled"], false);
    api.post(&vt, &json!({}))
        .await
        .err(422, "form_param_missing");

    // DeleteBackupCode, DeleteTOTP, DisableMFA answer {user_id}.
    let u2 = api
        .create_user(json!({"totp_secret": SECRET, "backup_codes": ["b-1"]}))
        .await;
    let id2 = u2["id"].as_str().unwrap();
    let r = api
        .delete(&format!("/v1/users/{id2}/backup_code"))
        .await
        .ok("DeleteBackupCode");
    assert_eq!(r, json!({"user_id": id2}));
    let r = api
        .delete(&format!("/v1/users/{id2}/totp"))
        .await
        .ok("DeleteTOTP");
    assert_eq!(r, json!({"user_id": id2}));
    let g = api.get(&format!("/v1/users/{id2}")).await.ok("GetUser");
    assert_eq!(
        (g["totp_enabled"].clone(), g["two_factor_enabled"].clone()),
        (json!(false), json!(false))
    );
    assert!(g["mfa_disabled_at"].is_i64());
    api.post(
        &format!("/v1/users/{id2}/verify_totp"),
        &json!({"code": "123456"}),
    )
    .await
    .err(400, "totp_not_enabled");

    api.patch(
        &format!("/v1/users/{id2}"),
        &json!({"totp_secret": SECRET, "backup_codes": ["c-1"]}),
    )
    .await
    .ok("UpdateUser");
    let r = api
        .delete(&format!("/v1/users/{id2}/mfa"))
        .await
        .ok("DisableMFA");
    assert_eq!(r, json!({"user_id": id2}));
    let g = api.get(&format!("/v1/users/{id2}")).await.ok("GetUser");
    assert_eq!(
        (g["totp_enabled"].clone(), g["backup_code_enabled"].clone()),
        (json!(false), json!(false))
    );
    api.delete("/v1/users/user_nope/mfa")
        .await
        .err(404, "resource_not_found");
    api.post("/v1/users", &json!({"totp_secret": "not base32!"}))
        .await
        .err(422, "form_param_format_invalid");
}
