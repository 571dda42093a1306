//! Errors a person can read: what failed, on what, and what to do. Never a
//! Rust `Debug` dump; `-v` adds the chain of causes.

/// Exit codes, as `--help` documents them.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_ERROR: i32 = 2;
/// A run that was being followed or waited for was deleted.
pub const EXIT_DELETED: i32 = 3;
/// Interrupted (Ctrl-C) while following: the run goes on.
pub const EXIT_INTERRUPTED: i32 = 130;

/// One line about a failed API call: `doing` says what the plugin was doing
/// ("listing taskruns in namespace ci"), `server` where it was sent.
pub fn api(error: &kube::Error, doing: &str, server: &str) -> anyhow::Error {
    let mut causes = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        causes.push(e.to_string());
        current = e.source();
    }
    anyhow::anyhow!("{}", causes.join(": ")).context(describe(error, doing, server))
}

/// The text of `api`.
pub fn describe(error: &kube::Error, doing: &str, server: &str) -> String {
    match error {
        kube::Error::Api(status) => {
            let message = status.message.trim();
            match status.code {
                401 => format!(
                    "{doing}: the API server at {server} does not accept your credentials ({message}); log in again, or check --token and your kubeconfig's user"
                ),
                403 => format!(
                    "{doing}: forbidden: {message}; ask an administrator for the minitask-view role (to read) or minitask-edit (to start, cancel and delete runs)"
                ),
                404 => format!("{doing}: not found: {message}"),
                code => format!("{doing}: {message} (HTTP {code} {})", status.reason),
            }
        }
        other => {
            let cause = root_cause(other);
            let lower = cause.to_ascii_lowercase();
            let advice = if lower.contains("refused") || lower.contains("connect") || lower.contains("dns") {
                "; is the cluster running? `kubectl cluster-info` checks the same address"
            } else if lower.contains("timed out") || lower.contains("elapsed") {
                "; the API server did not answer in time (--request-timeout sets how long to wait)"
            } else if lower.contains("certificate") || lower.contains("tls") {
                "; the server's certificate does not match your kubeconfig's certificate-authority-data"
            } else {
                ""
            };
            format!("{doing}: cannot reach the API server at {server}: {cause}{advice}")
        }
    }
}

/// The innermost cause of `error`, as its own words: `connection refused`
/// rather than `client error (Connect): client error (Connect): ...`.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    let text = deepest.to_string();
    // io errors end in "(os error 111)": the words before it are enough.
    match text.split_once(" (os error") {
        Some((words, _)) => words.to_string(),
        None => text,
    }
}

/// Every cause of `error`, outermost first, for `-v`.
pub fn chain(error: &anyhow::Error) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
    while let Some(e) = current {
        let text = e.to_string();
        if out.last() != Some(&text) {
            out.push(text);
        }
        current = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        let mut status = Status::failure(message, reason);
        status.code = code;
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn api_errors_say_what_failed_and_what_to_do_without_a_dump() {
        let forbidden = api_error(
            403,
            "Forbidden",
            "taskruns.minitask.dev is forbidden: User \"alice\" cannot list resource \"taskruns\"",
        );
        let text = describe(&forbidden, "listing taskruns in namespace \"ci\"", "https://k8s:6443");
        assert_eq!(
            text,
            "listing taskruns in namespace \"ci\": forbidden: taskruns.minitask.dev is forbidden: User \"alice\" cannot list resource \"taskruns\"; ask an administrator for the minitask-view role (to read) or minitask-edit (to start, cancel and delete runs)"
        );
        for error in [
            forbidden,
            api_error(422, "Invalid", "spec.x: bad"),
            api_error(401, "Unauthorized", ""),
        ] {
            let text = describe(&error, "doing", "https://k8s:6443");
            assert!(!text.contains("Status {") && !text.contains("Some("), "{text}");
        }
    }

    #[test]
    fn the_root_cause_is_the_innermost_error_in_its_own_words() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let wrapped = anyhow::Error::new(io)
            .context("client error (Connect)")
            .context("client error (Connect)");
        assert_eq!(root_cause(wrapped.as_ref()), "Connection refused");
        assert_eq!(
            chain(&wrapped),
            ["client error (Connect)", "Connection refused (os error 111)"]
        );
    }
}
