//! Hostile deliveries, each with the answer it must get; none of them may
//! create a run.

use minitask_hooks::deliver::sign;
use serde_json::json;

use crate::common::{Hooks, SECRET};

const PUSH: &str = r#"{"ref":"refs/heads/main","head_commit":{"id":"abc"}}"#;

fn signed(body: &[u8]) -> Vec<u8> {
    sign(SECRET.as_bytes(), body).into_bytes()
}

/// One case: its name, headers, body and the status it must get.
struct Case {
    what: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    want: u16,
}

fn case(what: &'static str, headers: Vec<(&'static str, Vec<u8>)>, body: impl Into<Vec<u8>>, want: u16) -> Case {
    Case {
        what,
        headers,
        body: body.into(),
        want,
    }
}

fn push_headers(signature: Vec<u8>) -> Vec<(&'static str, Vec<u8>)> {
    vec![("X-Hub-Signature-256", signature), ("X-GitHub-Event", b"push".to_vec())]
}

fn cases() -> Vec<Case> {
    let body = PUSH.as_bytes().to_vec();
    let good = signed(&body);
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 2);
    let mut longer = good.clone();
    longer.extend(b"00");
    let sha1 = {
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, SECRET.as_bytes()),
            &body,
        );
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha1={hex}").into_bytes()
    };
    let with_signature = |body: &[u8]| push_headers(signed(body));
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let wide_list = json!({"ref": "refs/heads/main", "l": vec![1; 3000]}).to_string();
    vec![
        case(
            "no signature",
            vec![("X-GitHub-Event", b"push".to_vec())],
            body.clone(),
            401,
        ),
        case("an empty signature", push_headers(Vec::new()), body.clone(), 401),
        case(
            "only the algorithm",
            push_headers(b"sha256=".to_vec()),
            body.clone(),
            401,
        ),
        case("a truncated signature", push_headers(truncated), body.clone(), 401),
        case("a signature too long", push_headers(longer), body.clone(), 401),
        case("SHA-1 instead of SHA-256", push_headers(sha1), body.clone(), 401),
        case(
            "another algorithm's name",
            push_headers(good.replace_prefix(b"sha256=", b"sha512=")),
            body.clone(),
            401,
        ),
        case(
            "the signature of another body",
            push_headers(signed(b"{}")),
            body.clone(),
            401,
        ),
        case(
            "a signature with another secret",
            push_headers(sign(b"wrong", &body).into_bytes()),
            body.clone(),
            401,
        ),
        case(
            "the signature header twice",
            vec![
                ("X-Hub-Signature-256", good.clone()),
                ("X-Hub-Signature-256", good.clone()),
            ],
            body.clone(),
            401,
        ),
        case(
            "a signature that is not hex",
            push_headers(format!("sha256={}", "zz".repeat(32)).into_bytes()),
            body.clone(),
            401,
        ),
        case(
            "a signature with bytes beyond ASCII",
            push_headers(b"sha256=\xff\xfe".to_vec()),
            body.clone(),
            401,
        ),
        case(
            "a body cut after signing",
            push_headers(good.clone()),
            &body[..body.len() - 5],
            401,
        ),
        case(
            "a newline added after signing",
            push_headers(good.clone()),
            [body.as_slice(), b"\n"].concat(),
            401,
        ),
        case(
            "a GitLab token at a GitHub hook",
            vec![("X-Gitlab-Token", SECRET.as_bytes().to_vec())],
            body.clone(),
            401,
        ),
        case(
            "the generic header at a GitHub hook",
            vec![("X-Signature-256", good.clone())],
            body.clone(),
            401,
        ),
        case("signed, not JSON", with_signature(b"ref=main"), "ref=main", 400),
        case(
            "signed, invalid UTF-8",
            with_signature(b"{\"ref\":\"\xff\xfe\"}"),
            b"{\"ref\":\"\xff\xfe\"}".to_vec(),
            400,
        ),
        case(
            "signed, 10,000 levels deep",
            with_signature(nested.as_bytes()),
            nested.clone(),
            400,
        ),
        case("signed, empty", with_signature(b""), "", 400),
        case(
            "signed, a number out of range",
            with_signature(b"{\"ref\":1e400}"),
            "{\"ref\":1e400}",
            400,
        ),
        case("signed, null", with_signature(b"null"), "null", 400),
        case("signed, a list", with_signature(b"[]"), "[]", 400),
        case(
            "signed, the ref a number",
            with_signature(b"{\"ref\":7}"),
            "{\"ref\":7}",
            204,
        ),
        case(
            "signed, the commit missing",
            with_signature(br#"{"ref":"refs/heads/main"}"#),
            r#"{"ref":"refs/heads/main"}"#,
            400,
        ),
        case(
            "signed, another branch",
            with_signature(br#"{"ref":"refs/heads/x"}"#),
            r#"{"ref":"refs/heads/x"}"#,
            204,
        ),
        case(
            "the event header twice",
            vec![
                ("X-Hub-Signature-256", good.clone()),
                ("X-GitHub-Event", b"push".to_vec()),
                ("X-GitHub-Event", b"push".to_vec()),
            ],
            body.clone(),
            400,
        ),
        case(
            "the delivery header twice",
            vec![
                ("X-Hub-Signature-256", good.clone()),
                ("X-GitHub-Event", b"push".to_vec()),
                ("X-GitHub-Delivery", b"a".to_vec()),
                ("X-GitHub-Delivery", b"b".to_vec()),
            ],
            body.clone(),
            400,
        ),
        case(
            "an event not accepted",
            vec![
                ("X-Hub-Signature-256", good.clone()),
                ("X-GitHub-Event", b"fork".to_vec()),
            ],
            body.clone(),
            204,
        ),
        case(
            "a body over 1 MiB",
            with_signature(&vec![b' '; (1 << 20) + 1]),
            vec![b' '; (1 << 20) + 1],
            413,
        ),
        case(
            "a length over 1 MiB announced",
            vec![
                ("Content-Length", b"104857600".to_vec()),
                ("X-Hub-Signature-256", good.clone()),
            ],
            body.clone(),
            413,
        ),
        case(
            "a header repeated 200 times",
            (0..200).map(|_| ("X-Filler", b"x".to_vec())).collect(),
            body.clone(),
            431,
        ),
        case("a wide list under a quadratic filter", Vec::new(), wide_list, 400),
    ]
}

trait ReplacePrefix {
    fn replace_prefix(&self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplacePrefix for Vec<u8> {
    fn replace_prefix(&self, from: &[u8], to: &[u8]) -> Vec<u8> {
        match self.strip_prefix(from) {
            Some(rest) => [to, rest].concat(),
            None => self.clone(),
        }
    }
}

#[tokio::test]
async fn hostile_deliveries_get_their_answer_and_start_nothing() {
    let hooks = Hooks::start("hooks-corpus").await;
    let run = json!({"taskRef": {"name": "build"}, "params": [{"name": "commit", "value": "$(body.head_commit.id)"}]});
    hooks
        .trigger(
            "corpus",
            json!({"secretRef": {"name": "hook"}, "provider": "github", "events": ["push"],
                   "filter": "body.ref == 'refs/heads/main'", "rateLimit": 1000}),
            run.clone(),
        )
        .await;
    // CEL over a signed body whose cost grows with the square of a list.
    hooks
        .trigger(
            "quadratic",
            json!({"secretRef": {"name": "hook"}, "filter": "body.l.all(a, body.l.all(b, a == b || true))"}),
            run,
        )
        .await;
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let (path, headers) = if case.what.contains("quadratic") {
            let signature = sign(SECRET.as_bytes(), &case.body);
            (
                hooks.path("quadratic"),
                vec![("X-Signature-256", signature.into_bytes())],
            )
        } else {
            (hooks.path("corpus"), case.headers.clone())
        };
        let refs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let (code, answer) = hooks.post(&path, &refs, &case.body).await;
        if code != case.want {
            wrong.push(format!("{}: got {code} ({answer}), want {}", case.what, case.want));
        }
    }
    // Malformed requests that never reach a Trigger.
    let raw: [(&str, &[u8], u16); 4] = [
        (
            "GET instead of POST",
            b"GET /hooks/x/corpus HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            0,
        ),
        (
            "a path that climbs",
            b"POST /hooks/../corpus HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            404,
        ),
        (
            "a path too long",
            b"POST /hooks/a/b/c HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            404,
        ),
        ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    ];
    for (what, request, want) in raw {
        let request = String::from_utf8_lossy(request).replace("/hooks/x/", &format!("/hooks/{}/", hooks.ns));
        let (code, _) = hooks.raw(request.as_bytes()).await;
        let want = if want == 0 { 405 } else { want };
        if code != want {
            wrong.push(format!("{what}: got {code}, want {want}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases:\n{}",
        wrong.len(),
        cases.len() + 4,
        wrong.join("\n")
    );
    assert!(
        hooks.runs("corpus").await.is_empty(),
        "a hostile delivery created a run"
    );
    assert!(hooks.runs("quadratic").await.is_empty());
    let status = hooks
        .status("corpus", |s| s.rejected.get("BadSignature").is_some_and(|n| *n >= 16))
        .await;
    assert_eq!(status.fired, 0);
}
