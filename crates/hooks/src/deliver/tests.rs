use http::{HeaderMap, HeaderName, HeaderValue};
use minitask_api::{Param, ParamValue, PipelineRef, SecretKeyRef, TriggerRun, TriggerSpec, Webhook};
use serde_json::json;

use super::*;

const SECRET: &[u8] = b"s3cret";

fn trigger(provider: Provider, filter: Option<&str>, events: &[&str]) -> Trigger {
    let mut trigger = Trigger::new(
        "on-push",
        TriggerSpec {
            run: TriggerRun {
                pipeline_ref: Some(PipelineRef { name: "ci".into() }),
                params: vec![Param {
                    name: "commit".into(),
                    value: ParamValue::String("$(body.head_commit.id)".into()),
                }],
                ..TriggerRun::default()
            },
            schedule: None,
            webhook: Some(Webhook {
                secret_ref: SecretKeyRef {
                    name: "hook".into(),
                    key: None,
                },
                provider,
                events: events.iter().map(|e| e.to_string()).collect(),
                filter: filter.map(String::from),
                rate_limit: None,
            }),
        },
    );
    trigger.metadata.namespace = Some("team".into());
    trigger.metadata.uid = Some("uid-1".into());
    trigger
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

const PUSH: &str = r#"{"ref":"refs/heads/main","head_commit":{"id":"abc123"}}"#;

#[test]
fn a_signed_push_starts_a_pipelinerun_named_by_its_delivery() {
    let t = trigger(Provider::Github, Some("body.ref == 'refs/heads/main'"), &["push"]);
    let h = headers(&[
        ("x-hub-signature-256", &sign(SECRET, PUSH.as_bytes())),
        ("x-github-event", "push"),
        ("x-github-delivery", "d-1"),
    ]);
    let Outcome::Start { run, delivery } = decide(&t, Some(SECRET), &h, PUSH.as_bytes()) else {
        panic!("a start")
    };
    assert_eq!(delivery, "d-1");
    let TriggeredRun::Pipeline(run) = *run else {
        panic!("a PipelineRun")
    };
    assert_eq!(run.spec.params[0].value, ParamValue::String("abc123".into()));
    assert_eq!(
        run.metadata.name,
        Some(format!("on-push-{}", delivery_key("uid-1", "d-1")))
    );
    // The same delivery again names the same run.
    let Outcome::Start { run: again, .. } = decide(&t, Some(SECRET), &h, PUSH.as_bytes()) else {
        panic!()
    };
    assert_eq!(again.name(), run.metadata.name.as_deref().unwrap());
}

#[test]
fn every_provider_checks_its_own_header() {
    let body = PUSH.as_bytes();
    let generic = headers(&[("x-signature-256", &sign(SECRET, body)), ("x-event", "push")]);
    assert!(matches!(
        decide(&trigger(Provider::Generic, None, &[]), Some(SECRET), &generic, body),
        Outcome::Start { .. }
    ));
    let gitlab = headers(&[("x-gitlab-token", "s3cret"), ("x-gitlab-event", "Push Hook")]);
    assert!(matches!(
        decide(
            &trigger(Provider::Gitlab, None, &["Push Hook"]),
            Some(SECRET),
            &gitlab,
            body
        ),
        Outcome::Start { .. }
    ));
    let wrong = headers(&[("x-gitlab-token", "s3cres")]);
    assert!(matches!(
        decide(&trigger(Provider::Gitlab, None, &[]), Some(SECRET), &wrong, body),
        Outcome::Unauthorized {
            reason: "BadSignature",
            ..
        }
    ));
    // A GitHub signature sent to a generic Trigger is not its header.
    let github = headers(&[("x-hub-signature-256", &sign(SECRET, body))]);
    assert!(matches!(
        decide(&trigger(Provider::Generic, None, &[]), Some(SECRET), &github, body),
        Outcome::Unauthorized { .. }
    ));
}

#[test]
fn the_signature_is_checked_before_the_body_is_read() {
    let t = trigger(Provider::Github, None, &[]);
    let garbage = b"\xff\xfe not json";
    let unsigned = headers(&[("x-github-event", "push")]);
    assert!(matches!(
        decide(&t, Some(SECRET), &unsigned, garbage),
        Outcome::Unauthorized { .. }
    ));
    let signed = headers(&[("x-hub-signature-256", &sign(SECRET, garbage))]);
    assert!(matches!(
        decide(&t, Some(SECRET), &signed, garbage),
        Outcome::Bad { reason: "BadBody", .. }
    ));
    assert!(matches!(
        decide(&t, None, &signed, garbage),
        Outcome::Unauthorized {
            reason: "SecretMissing",
            ..
        }
    ));
}

#[test]
fn filtered_ignored_and_unfillable_deliveries_start_nothing() {
    let body = br#"{"ref":"refs/heads/dev","head_commit":{"id":"x"}}"#;
    let h = headers(&[("x-hub-signature-256", &sign(SECRET, body)), ("x-github-event", "push")]);
    let t = trigger(Provider::Github, Some("body.ref == 'refs/heads/main'"), &["push"]);
    assert!(matches!(decide(&t, Some(SECRET), &h, body), Outcome::Filtered));
    let t = trigger(Provider::Github, None, &["pull_request"]);
    assert!(matches!(decide(&t, Some(SECRET), &h, body), Outcome::Ignored(e) if e == "push"));
    let no_commit = br#"{"ref":"refs/heads/main"}"#;
    let h = headers(&[("x-hub-signature-256", &sign(SECRET, no_commit))]);
    let Outcome::Bad { reason, message } = decide(&trigger(Provider::Github, None, &[]), Some(SECRET), &h, no_commit)
    else {
        panic!()
    };
    assert_eq!(
        (reason, message.as_str()),
        (
            "BadParam",
            "param commit: $(body.head_commit.id) is not in this delivery"
        )
    );
    let _ = json!({});
}

#[test]
fn params_are_filled_from_headers_and_the_event_too() {
    let mut t = trigger(Provider::Github, None, &[]);
    t.spec.run.params = vec![Param {
        name: "commit".into(),
        value: ParamValue::String("$(event)/$(headers.x-github-delivery)/$(body.head_commit.id)".into()),
    }];
    let h = headers(&[
        ("x-hub-signature-256", &sign(SECRET, PUSH.as_bytes())),
        ("x-github-event", "push"),
        ("x-github-delivery", "d-9"),
    ]);
    let Outcome::Start { run, .. } = decide(&t, Some(SECRET), &h, PUSH.as_bytes()) else {
        panic!("a start")
    };
    let TriggeredRun::Pipeline(run) = *run else {
        panic!("a PipelineRun")
    };
    assert_eq!(run.spec.params[0].value, ParamValue::String("push/d-9/abc123".into()));
}
