//! Getting a step's script to its interpreter byte for byte.
//!
//! Kubernetes rewrites a container's `command`, `args` and env values: it
//! expands `$(VAR)` and turns `$$` into `$`. A script is carried in `args`
//! with every `$` doubled, which that rewrite undoes exactly, so the shell
//! receives the script as written.

/// Where step scripts are written, in a volume private to the controller.
pub const SCRIPTS_DIR: &str = "/minitask/scripts";

/// Run by `/bin/sh -c` with `$0` = step name and `$1` = script. It writes
/// the script to a file and runs it: through its `#!` line when it has one,
/// otherwise with `/bin/sh -e`, stopping at the first failing command (as
/// Tekton does).
const LAUNCHER: &str = r#"script="/minitask/scripts/$0"
printf '%s' "$1" > "$script" && chmod 0755 "$script" || exit 1
case "$1" in
'#!'*) exec "$script" ;;
*) exec /bin/sh -e "$script" ;;
esac"#;

/// The `command` and `args` of a container that runs `script` for `step`.
pub fn script_command(step: &str, script: &str) -> (Vec<String>, Vec<String>) {
    let command = vec!["/bin/sh".to_string(), "-c".to_string(), escape(LAUNCHER)];
    let args = vec![escape(step), escape(script)];
    (command, args)
}

/// What a step with `onError: continue` writes to its termination message
/// when its command failed, followed by the exit code.
pub const CONTINUED: &str = "minitask: continued after exit code ";

/// Run by `/bin/sh -c` with `$0` = step name and the step's own command in
/// `$1...`: runs it, passes SIGTERM on (the shell is PID 1, which ignores
/// it), and exits 0 whatever it returned, so the next step starts. A failure
/// is recorded in the termination message for the controller.
const CONTINUE: &str = r#""$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
while :; do
  wait "$child"; code=$?
  kill -0 "$child" 2>/dev/null || break
done
[ "$code" -eq 0 ] || printf 'minitask: continued after exit code %d' "$code" > /dev/termination-log
exit 0"#;

/// `command` + `args` wrapped so that a failure lets the run go on.
pub fn continue_on_error(step: &str, command: Vec<String>, args: Vec<String>) -> (Vec<String>, Vec<String>) {
    let wrapper = vec!["/bin/sh".to_string(), "-c".to_string(), escape(CONTINUE)];
    let inner = std::iter::once(escape(step)).chain(command).chain(args).collect();
    (wrapper, inner)
}

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

    #[test]
    fn the_launcher_itself_survives_expansion() {
        let (command, args) = script_command("build", "echo $(HOME)");
        assert_eq!(command[..2], ["/bin/sh", "-c"]);
        assert_eq!(kubelet_expand(&command[2], env), LAUNCHER);
        assert_eq!(kubelet_expand(&args[0], env), "build");
        assert_eq!(kubelet_expand(&args[1], env), "echo $(HOME)");
    }

    #[test]
    fn the_continue_wrapper_runs_the_step_command_as_its_arguments() {
        let (command, args) = script_command("build", "exit 3");
        let (wrapper, inner) = continue_on_error("build", command.clone(), args.clone());
        assert_eq!(kubelet_expand(&wrapper[2], env), CONTINUE);
        assert!(CONTINUE.contains(CONTINUED.trim_end()));
        assert_eq!(inner[0], "build");
        assert_eq!(inner[1..], [command, args].concat()[..]);
    }

    #[test]
    fn the_launcher_writes_into_the_scripts_volume() {
        assert!(LAUNCHER.contains(SCRIPTS_DIR));
    }
}
