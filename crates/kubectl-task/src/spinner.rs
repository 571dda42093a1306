//! What a command is waiting for: a one-line spinner on a terminal, or a
//! plain line each time the state changes when stderr is not a terminal
//! (CI logs), so that a long wait is never silent.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// The run being followed, for the Ctrl-C hint: namespace, and the run as
/// commands take it (`x` or `pipelinerun/x`).
static FOLLOWING: Mutex<Option<(String, String)>> = Mutex::new(None);

pub struct Spinner {
    terminal: bool,
    frame: usize,
    shown: bool,
    last: Option<String>,
}

impl Spinner {
    pub fn new() -> Spinner {
        Spinner {
            terminal: std::io::stderr().is_terminal(),
            frame: 0,
            shown: false,
            last: None,
        }
    }

    /// Shows `text`: redrawn on a terminal, printed once per change
    /// elsewhere.
    pub fn show(&mut self, text: &str) {
        if !self.terminal {
            if self.last.as_deref() != Some(text) {
                eprintln!("{text}");
                self.last = Some(text.to_string());
            }
            return;
        }
        const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
        self.frame += 1;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{} {text}", FRAMES[self.frame % FRAMES.len()]);
        let _ = err.flush();
        self.shown = true;
    }

    /// Removes the spinner's line (before other output).
    pub fn clear(&mut self) {
        if self.shown {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            self.shown = false;
        }
        self.last = None;
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Remembers which run is followed (namespace, name) for `interrupted`.
pub fn following(namespace: &str, name: &str) {
    *FOLLOWING.lock().unwrap_or_else(|e| e.into_inner()) = Some((namespace.to_string(), name.to_string()));
}

/// What to say when Ctrl-C stops the plugin: the run goes on.
pub fn interrupted() -> String {
    let followed = FOLLOWING.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let clear = if std::io::stderr().is_terminal() {
        "\r\x1b[2K"
    } else {
        ""
    };
    match followed {
        Some((namespace, name)) => format!(
            "{clear}interrupted; {} goes on. Follow it again with `kubectl task logs -f {name} -n {namespace}`, or cancel it with `kubectl task cancel {name} -n {namespace}`.",
            match name.strip_prefix("pipelinerun/") {
                Some(run) => format!("pipelinerun {run}"),
                None => format!("taskrun {name}"),
            }
        ),
        None => format!("{clear}interrupted"),
    }
}
