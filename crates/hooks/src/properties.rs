//! Property tests of the signature and payload path: any body and any
//! headers get an answer, never a panic; a signature holds for its body
//! alone. `cargo xtask fuzz` runs them longer.

use http::{HeaderMap, HeaderName, HeaderValue};
use minitask_api::{Provider, SecretKeyRef, TaskRef, Trigger, TriggerRun, TriggerSpec, Webhook};
use proptest::prelude::*;

use crate::deliver::{Outcome, decide, sign};

fn trigger(provider: Provider) -> Trigger {
    let mut trigger = Trigger::new(
        "t",
        TriggerSpec {
            run: TriggerRun {
                task_ref: Some(TaskRef::task("build")),
                params: vec![minitask_api::Param {
                    name: "commit".into(),
                    value: minitask_api::ParamValue::String("$(body.head_commit.id)-$(headers.x-event)".into()),
                }],
                ..TriggerRun::default()
            },
            schedule: None,
            webhook: Some(Webhook {
                secret_ref: SecretKeyRef {
                    name: "s".into(),
                    key: None,
                },
                provider,
                filter: Some("has(body.ref) && body.ref.startsWith('refs/') || size(body) > 3".into()),
                ..Webhook::default()
            }),
        },
    );
    trigger.metadata.namespace = Some("ns".into());
    trigger
}

fn provider() -> impl Strategy<Value = Provider> {
    prop_oneof![Just(Provider::Generic), Just(Provider::Github), Just(Provider::Gitlab)]
}

/// Headers a sender might send, with values of any bytes a header may hold.
fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        Just("x-signature-256".to_string()),
        Just("x-hub-signature-256".to_string()),
        Just("x-gitlab-token".to_string()),
        Just("x-event".to_string()),
        Just("x-github-delivery".to_string()),
        "x-[a-z]{1,8}",
    ];
    let value = prop::collection::vec(prop_oneof![32u8..127, 128u8..=255], 0..80);
    prop::collection::vec((name, value), 0..6)
}

fn header_map(pairs: &[(String, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value)) {
            map.append(name, value);
        }
    }
    map
}

proptest! {
    #[test]
    fn any_delivery_gets_an_answer(provider in provider(), pairs in headers(), body in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decide(&trigger(provider), Some(b"secret"), &header_map(&pairs), &body);
        let _ = decide(&trigger(provider), None, &header_map(&pairs), &body);
    }

    #[test]
    fn an_unsigned_or_forged_delivery_is_refused(pairs in headers(), body in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut map = header_map(&pairs);
        map.remove("x-signature-256");
        map.insert("x-signature-256", HeaderValue::from_str(&sign(b"not the secret", &body)).unwrap());
        let refused = matches!(decide(&trigger(Provider::Generic), Some(b"secret"), &map, &body), Outcome::Unauthorized { .. });
        prop_assert!(refused);
    }

    #[test]
    fn a_signature_holds_for_its_body_alone(body in "\\{\"ref\":\"refs/[a-z]{0,8}\",\"head_commit\":\\{\"id\":\"[a-f0-9]{1,40}\"\\}\\}", flip in any::<prop::sample::Index>()) {
        let body = body.into_bytes();
        let mut map = HeaderMap::new();
        map.insert("x-signature-256", HeaderValue::from_str(&sign(b"secret", &body)).unwrap());
        map.insert("x-event", HeaderValue::from_static("push"));
        let signed = decide(&trigger(Provider::Generic), Some(b"secret"), &map, &body);
        prop_assert!(matches!(signed, Outcome::Start { .. }), "{:?}", signed);
        let mut changed = body.clone();
        let at = flip.index(changed.len());
        changed[at] ^= 0x01;
        let forged = decide(&trigger(Provider::Generic), Some(b"secret"), &map, &changed);
        prop_assert!(matches!(forged, Outcome::Unauthorized { .. }), "{:?}", forged);
    }
}
