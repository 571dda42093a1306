//! Getting a step's script to its interpreter byte for byte.
//!
//! Kubernetes rewrites a container's `command`, `args` and env values: it
//! expands `$(VAR)` and turns `$$` into `$`. A script is carried in `args`
//! with every `$` doubled, which that rewrite undoes exactly, so the
//! launcher receives the script as written.

/// Protects `text` from Kubernetes' `$(VAR)` expansion: every `$` becomes
/// `$$`, which the kubelet turns back into a single `$`.
pub fn escape(text: &str) -> String {
    text.replace('$', "$$")
}

/// What the kubelet does to command, args and env values (see
/// `third_party/forked/golang/expansion` in Kubernetes): `$$` becomes `$`,
/// `$(NAME)` becomes the variable's value when it is defined and is left as
/// it is otherwise, and any other `$` is kept. Used to check `escape`.
#[cfg(test)]
pub fn kubelet_expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 == bytes.len() {
            let next = input[i..].chars().next().expect("in bounds");
            out.push(next);
            i += next.len_utf8();
            continue;
        }
        match bytes[i + 1] {
            b'$' => {
                out.push('$');
                i += 2;
            }
            b'(' => match input[i + 2..].find(')') {
                Some(close) => {
                    let name = &input[i + 2..i + 2 + close];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => out.push_str(&input[i..i + 3 + close]),
                    }
                    i += 3 + close;
                }
                None => {
                    out.push_str("$(");
                    i += 2;
                }
            },
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".into()),
            "PATH" => Some("/bin".into()),
            _ => None,
        }
    }

    #[test]
    fn the_expansion_model_matches_kubernetes() {
        let cases = [
            ("$(HOME)", "/root"),
            ("$$(HOME)", "$(HOME)"),
            ("$$", "$"),
            ("$(UNSET)", "$(UNSET)"),
            ("a$b", "a$b"),
            ("end$", "end$"),
            ("$(unclosed", "$(unclosed"),
        ];
        for (input, want) in cases {
            assert_eq!(kubelet_expand(input, env), want, "{input}");
        }
    }

    #[test]
    fn escaped_scripts_survive_expansion_byte_for_byte() {
        let scripts = [
            "echo $(HOME)",
            "echo $$ $$$ $",
            "echo \"$HOME\" '$(PATH)' `date` $((1+2))",
            "#!/bin/sh\ncat <<'EOF'\n$(HOME) $$ \"q\" 'q'\nEOF\n",
            "#!/usr/bin/env python3\nprint('$(HOME)')\n",
            "ends with a dollar $",
            "unicode ✓ $(ÄÖ) and tabs\tand\r\ncrlf",
            "",
        ];
        for script in scripts {
            assert_eq!(kubelet_expand(&escape(script), env), script);
        }
    }
}
