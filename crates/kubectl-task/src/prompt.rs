//! Asking for what `start` is missing, on a terminal only: params (Enter
//! keeps a default) and workspaces. Without a terminal nothing is asked,
//! and what is missing is listed with the flags that give it.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::bail;
use minitask_api::{Param, ParamSpec, ParamType, ParamValue, WorkspaceBinding, WorkspaceDeclaration};

use crate::inputs::{WORKSPACE_SYNTAX, typed, workspace};

/// Set by the dashboard: its runs are started from a form, and the
/// terminal it was started from must never be asked.
static NEVER_ASK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn never_ask() {
    NEVER_ASK.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// True when a person can answer.
pub fn interactive() -> bool {
    !NEVER_ASK.load(std::sync::atomic::Ordering::Relaxed)
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}

/// Asks for the required params not given, and (unless `use_defaults`)
/// those with a default. Without a terminal, missing required params are
/// an error listing them all.
pub fn params(
    declared: &[ParamSpec],
    params: &mut Vec<Param>,
    missing: &[String],
    use_defaults: bool,
) -> anyhow::Result<()> {
    if !interactive() {
        if !missing.is_empty() {
            let flags: Vec<String> = missing.iter().map(|m| format!("-p {m}=...")).collect();
            bail!(
                "missing required params: {}; pass them with {}",
                missing.join(", "),
                flags.join(" ")
            );
        }
        return Ok(());
    }
    for spec in declared {
        let given = params.iter().any(|p| p.name == spec.name);
        if given || (!missing.contains(&spec.name) && use_defaults) {
            continue;
        }
        // Shown as it would be typed: `world`, or `ada,grace` for an array.
        let default = spec.default.as_ref().map(|d| match d {
            ParamValue::String(s) => s.clone(),
            ParamValue::Array(items) => items.join(","),
            ParamValue::Other(v) => v.to_string(),
        });
        let mut about: Vec<String> = spec.description.iter().cloned().collect();
        if spec.type_ == ParamType::Array {
            about.push("comma-separated".into());
        }
        let about = match about.is_empty() {
            true => String::new(),
            false => format!(" ({})", about.join("; ")),
        };
        let hint = default.as_deref().map(|d| format!(" [{d}]")).unwrap_or_default();
        let answer = ask(
            &format!("param {}{about}{hint}: ", spec.name),
            default.is_some(),
            || format!("param {} has no default: type a value", spec.name),
        )?;
        if let Some(answer) = answer {
            params.push(Param {
                name: spec.name.clone(),
                value: typed(spec.type_, &answer),
            });
        }
    }
    Ok(())
}

/// Asks for the required workspaces not bound. Without a terminal, they
/// are an error listing them with the `-w` flags that bind them.
pub fn workspaces(
    declared: &[WorkspaceDeclaration],
    bindings: &mut Vec<WorkspaceBinding>,
    missing: &[String],
) -> anyhow::Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    if !interactive() {
        let flags: Vec<String> = missing.iter().map(|m| format!("-w {m}=emptyDir")).collect();
        bail!(
            "missing workspaces: {}; bind them with {} (or pvc:CLAIM, configmap:NAME, secret:NAME)",
            missing.join(", "),
            flags.join(" ")
        );
    }
    for decl in declared.iter().filter(|d| missing.contains(&d.name)) {
        let about = decl
            .description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        loop {
            let answer = ask(
                &format!(
                    "workspace {}{about} [emptyDir, pvc:CLAIM, configmap:NAME, secret:NAME]: ",
                    decl.name
                ),
                false,
                || format!("workspace {} is required: type how to bind it", decl.name),
            )?;
            let answer = answer.unwrap_or_default();
            match workspace(&format!("{}={answer}", decl.name)) {
                Ok(binding) => {
                    bindings.push(binding);
                    break;
                }
                Err(_) => eprintln!("{answer:?} is not a binding: type one of {WORKSPACE_SYNTAX} (without NAME=)"),
            }
        }
    }
    Ok(())
}

/// One answer, trimmed. An empty answer keeps the default when there is
/// one (None), and is refused with `why_needed` otherwise. Ctrl-D ends the
/// prompt on a new line, creating nothing.
fn ask(question: &str, has_default: bool, why_needed: impl Fn() -> String) -> anyhow::Result<Option<String>> {
    let stdin = std::io::stdin();
    loop {
        eprint!("{question}");
        std::io::stderr().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            eprintln!();
            bail!("no answer (end of input); nothing was created");
        }
        let answer = line.trim();
        match (answer.is_empty(), has_default) {
            (true, true) => return Ok(None),
            (true, false) => eprintln!("{}", why_needed()),
            (false, _) => return Ok(Some(answer.to_string())),
        }
    }
}
