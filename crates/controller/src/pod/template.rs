//! `stepTemplate`: defaults merged into every step.

use k8s_openapi::api::core::v1::EnvVar;
use minitask_api::{Step, StepTemplate};

/// `step` with the template's values where it has none of its own; env
/// variables are merged by name, the step's winning.
pub fn apply(step: &Step, template: Option<&StepTemplate>) -> Step {
    let Some(template) = template else {
        return step.clone();
    };
    let mut merged = step.clone();
    merged.image = step.image.clone().or_else(|| template.image.clone());
    merged.working_dir = step.working_dir.clone().or_else(|| template.working_dir.clone());
    merged.resources = step.resources.clone().or_else(|| template.resources.clone());
    merged.security_context = step
        .security_context
        .clone()
        .or_else(|| template.security_context.clone());
    merged.env = merge_env(template.env.as_deref(), step.env.as_deref());
    merged
}

fn merge_env(defaults: Option<&[EnvVar]>, own: Option<&[EnvVar]>) -> Option<Vec<EnvVar>> {
    if defaults.is_none() && own.is_none() {
        return None;
    }
    let own = own.unwrap_or_default();
    let mut env: Vec<EnvVar> = defaults
        .unwrap_or_default()
        .iter()
        .filter(|d| !own.iter().any(|o| o.name == d.name))
        .cloned()
        .collect();
    env.extend(own.iter().cloned());
    Some(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::script_step;
    use k8s_openapi::api::core::v1::SecurityContext;

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        }
    }

    #[test]
    fn a_steps_own_values_win_over_the_template() {
        let template = StepTemplate {
            image: Some("alpine".into()),
            env: Some(vec![var("A", "template"), var("B", "template")]),
            working_dir: Some("/src".into()),
            resources: None,
            security_context: Some(SecurityContext {
                run_as_user: Some(1000),
                ..SecurityContext::default()
            }),
        };
        let mut step = script_step("s", "true");
        step.image = None;
        step.env = Some(vec![var("B", "step"), var("C", "step")]);
        let got = apply(&step, Some(&template));
        assert_eq!(got.image.as_deref(), Some("alpine"));
        assert_eq!(got.working_dir.as_deref(), Some("/src"));
        assert_eq!(got.security_context.unwrap().run_as_user, Some(1000));
        assert_eq!(
            got.env.unwrap(),
            [var("A", "template"), var("B", "step"), var("C", "step")]
        );

        let own = apply(&script_step("s", "true"), Some(&template));
        assert_eq!(own.image.as_deref(), Some("busybox"));
        assert_eq!(apply(&step, None), step);
    }
}
