//! Who is asking, and may they. The API server's front proxy presents a
//! client certificate signed by its requestheader CA and names the user in
//! headers (read only from a verified proxy); the API server then decides,
//! by a SubjectAccessReview, as metrics-server and other extension API
//! servers do. The reader's own RBAC is what applies.

use std::collections::BTreeMap;

use http::HeaderMap;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::PostParams;
use kube::{Api, Client};

use super::route::{Access, GROUP};
use super::status::Failure;

/// The front proxy, as the API server publishes it in
/// kube-system/extension-apiserver-authentication.
#[derive(Clone, Debug, Default)]
pub struct FrontProxy {
    pub ca_pem: String,
    /// Common names a proxy certificate may have (any, when empty).
    pub allowed_names: Vec<String>,
    pub user_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_prefixes: Vec<String>,
}

pub async fn front_proxy(client: &Client) -> anyhow::Result<FrontProxy> {
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let map = maps.get("extension-apiserver-authentication").await.map_err(|e| {
        anyhow::anyhow!(
            "reading kube-system/extension-apiserver-authentication (the aggregation layer's settings): {e}"
        )
    })?;
    let data = map.data.unwrap_or_default();
    let list = |key: &str| -> Vec<String> {
        data.get(key)
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default()
    };
    let ca_pem = data.get("requestheader-client-ca-file").cloned().unwrap_or_default();
    if ca_pem.trim().is_empty() {
        anyhow::bail!(
            "the API server has no front proxy CA (kube-apiserver --requestheader-client-ca-file is unset): the aggregation layer is not configured, so the archive's API cannot be served"
        );
    }
    Ok(FrontProxy {
        ca_pem,
        allowed_names: list("requestheader-allowed-names"),
        user_headers: list("requestheader-username-headers"),
        group_headers: list("requestheader-group-headers"),
        extra_prefixes: list("requestheader-extra-headers-prefix"),
    })
}

#[derive(Debug, PartialEq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

const NOT_PROXIED: &str = "requests to the archive must come through the Kubernetes API server (such as kubectl get --raw /apis/archive.minitask.dev/v1alpha1/namespaces/NS/taskruns)";

/// The user a request is made for. `proxy_name`: the common name of the
/// client certificate, which TLS verified against the front proxy's CA.
pub fn identify(proxy_name: Option<&str>, proxy: &FrontProxy, headers: &HeaderMap) -> Result<User, Failure> {
    proxied(proxy_name, proxy)?;
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let name = proxy
        .user_headers
        .iter()
        .find_map(|h| values(h).into_iter().next())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Failure::unauthorized(format!("the request names no user: {NOT_PROXIED}")))?;
    let groups = proxy.group_headers.iter().flat_map(|h| values(h)).collect();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (header, value) in headers {
        let header = header.as_str();
        let Some(prefix) = proxy
            .extra_prefixes
            .iter()
            .find(|p| header.len() > p.len() && header[..p.len()].eq_ignore_ascii_case(p))
        else {
            continue;
        };
        if let Ok(value) = value.to_str() {
            extra
                .entry(header[prefix.len()..].to_ascii_lowercase())
                .or_default()
                .push(value.to_string());
        }
    }
    Ok(User { name, groups, extra })
}

/// Whether the request came through the front proxy.
pub fn proxied(proxy_name: Option<&str>, proxy: &FrontProxy) -> Result<(), Failure> {
    let Some(proxy_name) = proxy_name else {
        return Err(Failure::unauthorized(format!(
            "no client certificate of the API server's front proxy: {NOT_PROXIED}"
        )));
    };
    if !proxy.allowed_names.is_empty() && !proxy.allowed_names.iter().any(|n| n == proxy_name) {
        return Err(Failure::unauthorized(format!(
            "client certificate {proxy_name:?} is not one of the front proxy's allowed names: {NOT_PROXIED}"
        )));
    }
    Ok(())
}

/// Asks the API server whether `user` may do `verb` on the archive's
/// `resource` in `namespace`.
pub async fn authorize(client: &Client, user: &User, access: Access<'_>) -> Result<(), Failure> {
    let Access {
        verb,
        resource,
        subresource,
        namespace,
        name,
    } = access;
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.name.clone()),
            groups: Some(user.groups.clone()),
            extra: Some(user.extra.clone()),
            resource_attributes: Some(ResourceAttributes {
                group: Some(GROUP.into()),
                version: Some(super::route::VERSION.into()),
                resource: Some(resource.into()),
                subresource: subresource.map(str::to_string),
                namespace: Some(namespace.into()),
                name: name.map(str::to_string),
                verb: Some(verb.into()),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    let answer = reviews.create(&PostParams::default(), &review).await.map_err(|e| {
        Failure::unavailable(format!(
            "asking the API server whether {} may {verb} {resource}: {e}",
            user.name
        ))
    })?;
    if answer.status.is_some_and(|s| s.allowed) {
        return Ok(());
    }
    let what = match subresource {
        Some(sub) => format!("resource \"{resource}/{sub}\""),
        None => format!("resource \"{resource}\""),
    };
    Err(Failure::forbidden(format!(
        "{resource}.{GROUP}{} is forbidden: User \"{}\" cannot {verb} {what} in API group \"{GROUP}\" in the namespace \"{namespace}\"",
        name.map(|n| format!(" \"{n}\"")).unwrap_or_default(),
        user.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy() -> FrontProxy {
        FrontProxy {
            allowed_names: vec!["front-proxy-client".into()],
            user_headers: vec!["X-Remote-User".into()],
            group_headers: vec!["X-Remote-Group".into()],
            extra_prefixes: vec!["X-Remote-Extra-".into()],
            ..FrontProxy::default()
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_user_is_read_only_from_a_verified_allowed_proxy() {
        let h = headers(&[
            ("x-remote-user", "alice"),
            ("x-remote-group", "team-a"),
            ("x-remote-group", "system:authenticated"),
            ("x-remote-extra-scopes", "view"),
        ]);
        let user = identify(Some("front-proxy-client"), &proxy(), &h).unwrap();
        assert_eq!(user.name, "alice");
        assert_eq!(user.groups, ["team-a", "system:authenticated"]);
        assert_eq!(user.extra["scopes"], ["view"]);
        assert_eq!(identify(None, &proxy(), &h).unwrap_err().code, 401);
        assert_eq!(identify(Some("mallory"), &proxy(), &h).unwrap_err().code, 401);
        assert_eq!(
            identify(Some("front-proxy-client"), &proxy(), &headers(&[]))
                .unwrap_err()
                .code,
            401
        );
    }
}
