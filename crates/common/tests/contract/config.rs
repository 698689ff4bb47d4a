use common::config::{Env, ProductionGuard, Secret};

#[test]
fn a_malformed_value_names_the_variable() {
    let env = Env::from_pairs([("PORT", "eighty")]);
    let err = env.or::<u16>("PORT", 3000).unwrap_err();
    assert_eq!(err.name, "PORT");
    assert!(err.to_string().contains("PORT"), "{err}");
}

#[test]
fn unset_and_empty_values_take_the_default() {
    let env = Env::from_pairs([("EMPTY", "  ")]);
    assert_eq!(env.or::<u16>("PORT", 3000).unwrap(), 3000);
    assert_eq!(env.opt::<String>("EMPTY").unwrap(), None);
    assert!(
        env.required::<String>("MISSING")
            .unwrap_err()
            .to_string()
            .contains("MISSING")
    );
}

#[test]
fn lists_and_flags_parse() {
    let env = Env::from_pairs([
        ("ORIGINS", "http://a, http://b,,"),
        ("ON", "yes"),
        ("BAD", "maybe"),
    ]);
    assert_eq!(env.list("ORIGINS", &[]), ["http://a", "http://b"]);
    assert_eq!(env.list("UNSET", &["x"]), ["x"]);
    assert!(env.flag("ON", false).unwrap());
    assert!(
        env.flag("BAD", false)
            .unwrap_err()
            .to_string()
            .contains("BAD")
    );
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let env = Env::from_pairs([("JWT_SIGNING_KEY", "super-secret-seed")]);
    let secret: Secret = env.secret("JWT_SIGNING_KEY").unwrap();
    assert_eq!(secret.expose(), "super-secret-seed");
    assert!(!format!("{secret:?}").contains("super"));
}

#[test]
fn the_production_guard_refuses_each_insecure_setting_and_names_it() {
    let env = Env::from_pairs([("APP_ENV", "production")]);
    let mut guard = ProductionGuard::new(&env);
    guard
        .require(false, "COOKIE_SECURE", "cookies must be Secure")
        .no_wildcard("ALLOWED_ORIGINS", &["*".to_owned()])
        .require(true, "SMTP_URL", "fine");
    let err = guard.finish().unwrap_err().to_string();
    assert!(
        err.contains("COOKIE_SECURE") && err.contains("ALLOWED_ORIGINS"),
        "{err}"
    );
    assert!(!err.contains("SMTP_URL"), "{err}");
}

#[test]
fn the_production_guard_only_warns_outside_production() {
    let env = Env::from_pairs([("APP_ENV", "development")]);
    let mut guard = ProductionGuard::new(&env);
    guard.require(false, "COOKIE_SECURE", "cookies must be Secure");
    assert!(guard.finish().is_ok());
}
