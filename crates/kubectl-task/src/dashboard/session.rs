//! Who may use the dashboard: whoever opened the URL it printed. The URL's
//! token is exchanged for an HttpOnly, SameSite=Strict cookie; any other
//! request without that cookie is refused, a form must carry the CSRF
//! token of the page it came from, and the Host header must name the
//! dashboard (so a web page that rebinds its DNS name to 127.0.0.1 cannot
//! read it). Pages are served with `Referrer-Policy: same-origin`, so the
//! browser names their origin on every form it posts. Pure, apart from
//! drawing the secrets.

use http::{HeaderMap, Method, header};

pub const COOKIE: &str = "minitask-dashboard";

pub struct Session {
    /// In the printed URL.
    pub token: String,
    /// The cookie's value.
    cookie: String,
    /// In every form.
    pub csrf: String,
    /// The Host values a request may carry.
    hosts: Vec<String>,
}

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// The token was right: set the cookie, and go to `location` (the same
    /// page without the token, so it leaves the address bar).
    Exchange {
        location: String,
        set_cookie: String,
    },
    /// Refused, with the status and why.
    Refused(u16, &'static str),
}

/// 32 random bytes as hex.
pub fn secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Session {
    pub fn new(token: String, cookie: String, csrf: String, address: &str, port: u16) -> Session {
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        let bound = match address.contains(':') {
            true => format!("[{address}]:{port}"),
            false => format!("{address}:{port}"),
        };
        if !hosts.contains(&bound) {
            hosts.push(bound);
        }
        Session {
            token,
            cookie,
            csrf,
            hosts,
        }
    }

    /// The URL to print.
    pub fn url(&self, address: &str, port: u16) -> String {
        let host = match address {
            "0.0.0.0" | "::" => "127.0.0.1".to_string(),
            a if a.contains(':') => format!("[{a}]"),
            a => a.to_string(),
        };
        format!("http://{host}:{port}/?token={}", self.token)
    }

    /// Whether a request may go on. `path` and `query` as requested.
    pub fn check(&self, method: &Method, path: &str, query: &str, headers: &HeaderMap) -> Access {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if !self.hosts.iter().any(|h| h == host) {
            return Access::Refused(
                403,
                "this dashboard answers only at the address kubectl task dashboard printed",
            );
        }
        let fields = super::route::fields(query);
        if let Some(token) = fields.get("token") {
            if method == Method::GET && same(token, &self.token) {
                let rest: Vec<String> = form_urlencoded::parse(query.as_bytes())
                    .filter(|(k, _)| k != "token")
                    .map(|(k, v)| format!("{k}={}", super::route::encode(&v)))
                    .collect();
                let location = match rest.is_empty() {
                    true => path.to_string(),
                    false => format!("{path}?{}", rest.join("&")),
                };
                return Access::Exchange {
                    location,
                    set_cookie: format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", self.cookie),
                };
            }
            return Access::Refused(
                401,
                "the token in this address is not this dashboard's: open the URL kubectl task dashboard printed",
            );
        }
        let has_cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == COOKIE && same(value, &self.cookie));
        if !has_cookie {
            return Access::Refused(
                401,
                "not signed in: open the URL kubectl task dashboard printed (with its token)",
            );
        }
        if !matches!(*method, Method::GET | Method::HEAD) {
            // A browser says where a form came from; it must be this page.
            let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
            if origin.is_some_and(|o| !self.hosts.iter().any(|h| o == format!("http://{h}"))) {
                return Access::Refused(403, "a form from another site cannot act here");
            }
        }
        Access::Allowed
    }

    /// Whether a posted form carries this session's CSRF token.
    pub fn form_ok(&self, csrf: Option<&String>) -> bool {
        csrf.is_some_and(|c| same(c, &self.csrf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new("tok".into(), "cookie".into(), "csrf".into(), "127.0.0.1", 8080)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_token_is_exchanged_for_a_cookie_and_leaves_the_address() {
        let access = session().check(
            &Method::GET,
            "/runs",
            "kind=taskruns&token=tok",
            &headers(&[("host", "127.0.0.1:8080")]),
        );
        assert_eq!(
            access,
            Access::Exchange {
                location: "/runs?kind=taskruns".into(),
                set_cookie: "minitask-dashboard=cookie; Path=/; HttpOnly; SameSite=Strict".into()
            }
        );
    }

    #[test]
    fn without_the_cookie_or_with_a_wrong_token_or_host_nothing_is_served() {
        let s = session();
        let host = ("host", "127.0.0.1:8080");
        assert!(matches!(
            s.check(&Method::GET, "/runs", "", &headers(&[host])),
            Access::Refused(401, _)
        ));
        assert!(matches!(
            s.check(&Method::GET, "/", "token=nope", &headers(&[host])),
            Access::Refused(401, _)
        ));
        assert!(matches!(
            s.check(
                &Method::GET,
                "/runs",
                "",
                &headers(&[host, ("cookie", "minitask-dashboard=other")])
            ),
            Access::Refused(401, _)
        ));
        // DNS rebinding: the right cookie is never sent to evil.example,
        // but its page could still ask for ours under its own name.
        assert!(matches!(
            s.check(
                &Method::GET,
                "/",
                "token=tok",
                &headers(&[("host", "evil.example:8080")])
            ),
            Access::Refused(403, _)
        ));
        assert_eq!(
            s.check(
                &Method::GET,
                "/runs",
                "",
                &headers(&[host, ("cookie", "a=b; minitask-dashboard=cookie")])
            ),
            Access::Allowed
        );
    }

    #[test]
    fn a_form_from_another_origin_or_without_the_csrf_token_cannot_act() {
        let s = session();
        let signed = [("host", "localhost:8080"), ("cookie", "minitask-dashboard=cookie")];
        let mut other = headers(&signed);
        other.append("origin", "http://evil.example".parse().unwrap());
        assert!(matches!(
            s.check(&Method::POST, "/ns/a/taskruns/b/delete", "", &other),
            Access::Refused(403, _)
        ));
        let mut same_origin = headers(&signed);
        same_origin.append("origin", "http://localhost:8080".parse().unwrap());
        assert_eq!(s.check(&Method::POST, "/x", "", &same_origin), Access::Allowed);
        assert!(s.form_ok(Some(&"csrf".to_string())));
        assert!(!s.form_ok(Some(&"csr".to_string())));
        assert!(!s.form_ok(None));
    }
}
