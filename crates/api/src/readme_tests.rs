//! The README's lists of reasons are the code's: a reason added, renamed
//! or dropped on one side fails here.

use std::collections::BTreeSet;

use crate::{PipelineReason, Reason};

const README: &str = include_str!("../../../README.md");

/// The `backticked` words of the paragraph that starts with `start`.
pub(crate) fn listed(start: &str) -> BTreeSet<String> {
    let at = README
        .find(start)
        .unwrap_or_else(|| panic!("the README has no paragraph starting {start:?}"));
    let paragraph = README[at..].split("\n\n").next().unwrap_or_default();
    paragraph.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

#[test]
fn the_readme_lists_every_taskrun_reason_and_no_other() {
    let code: BTreeSet<String> = Reason::ALL.iter().map(|r| r.as_str().to_string()).collect();
    assert_eq!(listed("Reasons: `TaskNotFound`"), code);
}

#[test]
fn the_readme_lists_every_pipelinerun_reason_and_no_other() {
    let code: BTreeSet<String> = PipelineReason::ALL.iter().map(|r| r.as_str().to_string()).collect();
    assert_eq!(listed("Reasons: `PipelineNotFound`"), code);
}
