//! What one delivery does: check its signature over the raw body (in
//! constant time, before anything is parsed), its event type, its JSON,
//! the Trigger's filter, then build the run it starts. Pure.

use http::HeaderMap;
use minitask_api::{Provider, Trigger, TriggeredRun, cel, delivery_key, json_path_text, triggered_name, triggered_run};
use ring::hmac;
use serde_json::{Map, Value};

/// The names a filter may use.
pub const FILTER_NAMES: [&str; 3] = ["body", "headers", "event"];

/// What to answer, and what to record.
#[derive(Debug)]
pub enum Outcome {
    /// Create this run (202; 200 when it exists already).
    Start { run: Box<TriggeredRun>, delivery: String },
    /// 204: the event type is not one the Trigger accepts.
    Ignored(String),
    /// 204: the filter said no.
    Filtered,
    /// 401, with the reason recorded (`BadSignature`, `SecretMissing`).
    Unauthorized { reason: &'static str, message: String },
    /// 400, with the reason recorded and told to the sender.
    Bad { reason: &'static str, message: String },
}

/// The headers of each provider: signature, event, delivery id.
fn header_names(provider: Provider) -> (&'static str, &'static str, &'static str) {
    match provider {
        Provider::Github => ("X-Hub-Signature-256", "X-GitHub-Event", "X-GitHub-Delivery"),
        Provider::Gitlab => ("X-Gitlab-Token", "X-Gitlab-Event", "X-Gitlab-Event-UUID"),
        Provider::Generic => ("X-Signature-256", "X-Event", "X-Delivery"),
    }
}

/// Decides what `trigger` does with a delivery. `secret` is the shared
/// secret, None when its Secret is missing from the cache.
pub fn decide(trigger: &Trigger, secret: Option<&[u8]>, headers: &HeaderMap, body: &[u8]) -> Outcome {
    let Some(hook) = &trigger.spec.webhook else {
        return bad("NotAWebhook", "this Trigger has no spec.webhook".into());
    };
    let (signature_header, event_header, delivery_header) = header_names(hook.provider);
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        let (name, key) = trigger.secret_key().unwrap_or_default();
        return Outcome::Unauthorized {
            reason: "SecretMissing",
            message: format!(
                "the Secret {name} (key {key}) is missing, empty or not labelled minitask.dev/webhook-secret=true; create or label it"
            ),
        };
    };
    if let Err(message) = verify(
        hook.provider,
        secret,
        headers.get_all(signature_header),
        body,
        signature_header,
    ) {
        return Outcome::Unauthorized {
            reason: "BadSignature",
            message,
        };
    }
    let event = match single(headers, event_header) {
        Ok(event) => event.unwrap_or_default(),
        Err(message) => return bad("BadHeader", message),
    };
    if !hook.events.is_empty() && !hook.events.contains(&event) {
        return Outcome::Ignored(event);
    }
    let delivery = match single(headers, delivery_header) {
        Ok(Some(id)) if !id.is_empty() && id.len() <= 200 => id,
        Ok(_) => body_digest(body),
        Err(message) => return bad("BadHeader", message),
    };
    let body: Value = match serde_json::from_slice(body) {
        Ok(body) => body,
        Err(e) => return bad("BadBody", format!("the body is not JSON: {e}")),
    };
    let headers_json = headers_json(headers);
    let event_json = Value::String(event.clone());
    if let Some(filter) = &hook.filter {
        let verdict = cel::compile(filter, &FILTER_NAMES)
            .and_then(|p| p.eval_bool(&[("body", &body), ("headers", &headers_json), ("event", &event_json)]));
        match verdict {
            Ok(true) => {}
            Ok(false) => return Outcome::Filtered,
            Err(e) => return bad("FilterError", format!("spec.webhook.filter: {e}")),
        }
    }
    let fill = |reference: &str| -> Option<String> {
        if reference == "event" {
            return Some(event.clone());
        }
        if let Some(path) = reference.strip_prefix("body.") {
            return json_path_text(&body, path);
        }
        let name = reference.strip_prefix("headers.")?;
        headers_json
            .get(name.to_ascii_lowercase())
            .and_then(Value::as_str)
            .map(String::from)
    };
    let uid = trigger.metadata.uid.as_deref().unwrap_or_default();
    let name = triggered_name(
        trigger.metadata.name.as_deref().unwrap_or_default(),
        &delivery_key(uid, &delivery),
    );
    match triggered_run(trigger, &name, &fill, &[]) {
        Ok(run) => Outcome::Start {
            run: Box::new(run),
            delivery,
        },
        Err(message) => bad("BadParam", message),
    }
}

fn bad(reason: &'static str, message: String) -> Outcome {
    Outcome::Bad { reason, message }
}

/// Checks the signature header (exactly one) against the body.
fn verify(
    provider: Provider,
    secret: &[u8],
    values: http::header::GetAll<'_, http::HeaderValue>,
    body: &[u8],
    header: &str,
) -> Result<(), String> {
    let mut iter = values.iter();
    let (Some(value), None) = (iter.next(), iter.next()) else {
        return Err(format!("{header} must be given exactly once"));
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let value = value.as_bytes();
    if provider == Provider::Gitlab {
        // The token is the secret itself: compare MACs of both, which takes
        // the same time wherever they differ.
        let tag = hmac::sign(&key, secret);
        return hmac::verify(&key, value, tag.as_ref()).map_err(|_| "the X-Gitlab-Token does not match".into());
    }
    let Some(hex) = value.strip_prefix(b"sha256=") else {
        return Err(format!("{header} must be sha256=<hex of the HMAC-SHA256 of the body>"));
    };
    let Some(tag) = unhex(hex).filter(|t| t.len() == 32) else {
        return Err(format!("{header} must hold 64 hex digits after sha256="));
    };
    hmac::verify(&key, body, &tag).map_err(|_| format!("{header} does not match the body"))
}

fn unhex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// A header given at most once, as text.
fn single(headers: &HeaderMap, name: &str) -> Result<Option<String>, String> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => value
            .to_str()
            .map(|v| Some(v.to_string()))
            .map_err(|_| format!("{name} is not text")),
        _ => Err(format!("{name} is given more than once")),
    }
}

/// The headers a filter sees: lower-case names, each one's first value
/// that is text.
fn headers_json(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for name in headers.keys() {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            map.insert(name.as_str().to_string(), Value::String(value.to_string()));
        }
    }
    Value::Object(map)
}

/// A delivery without an id is named by its body: the same body twice is
/// one delivery.
fn body_digest(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256=<hex>` of `body` signed with `secret`: what a sender puts in the
/// signature header.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests;
