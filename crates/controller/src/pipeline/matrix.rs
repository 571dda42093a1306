//! A matrix: one TaskRun per combination of its params' values.

use minitask_api::{Param, ParamValue};

/// The most TaskRuns one matrix may make.
pub const MAX_COMBINATIONS: usize = 256;

/// Every combination of `axes` (each a param whose value is a list), the
/// first param varying slowest; an error when a value is not a list or
/// there are more than `MAX_COMBINATIONS`.
pub fn combinations(axes: &[Param]) -> Result<Vec<Vec<Param>>, String> {
    let mut lists = Vec::new();
    let mut count: usize = 1;
    for axis in axes {
        let ParamValue::Array(values) = &axis.value else {
            return Err(format!("matrix param {:?} is not a list of values", axis.name));
        };
        count = count.saturating_mul(values.len());
        lists.push((axis.name.as_str(), values));
    }
    if count > MAX_COMBINATIONS {
        return Err(format!(
            "its matrix makes {count} combinations, more than the {MAX_COMBINATIONS} TaskRuns a task may fan out to"
        ));
    }
    let mut combos: Vec<Vec<Param>> = vec![Vec::new()];
    for (name, values) in lists {
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |v| {
                    let mut next = combo.clone();
                    next.push(Param {
                        name: name.to_string(),
                        value: ParamValue::String(v.clone()),
                    });
                    next
                })
            })
            .collect();
    }
    Ok(combos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(name: &str, values: &[&str]) -> Param {
        Param {
            name: name.into(),
            value: ParamValue::Array(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn text(combo: &[Param]) -> String {
        combo
            .iter()
            .map(|p| match &p.value {
                ParamValue::String(s) => format!("{}={s}", p.name),
                _ => "?".into(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn every_combination_once_the_first_param_slowest() {
        let got = combinations(&[
            axis("os", &["linux", "mac"]),
            axis("arch", &["amd64", "arm64", "riscv"]),
        ])
        .unwrap();
        let got: Vec<String> = got.iter().map(|c| text(c)).collect();
        assert_eq!(
            got,
            [
                "os=linux,arch=amd64",
                "os=linux,arch=arm64",
                "os=linux,arch=riscv",
                "os=mac,arch=amd64",
                "os=mac,arch=arm64",
                "os=mac,arch=riscv",
            ]
        );
        assert_eq!(
            combinations(&[axis("x", &[])]).unwrap().len(),
            0,
            "an empty list runs nothing"
        );
    }

    #[test]
    fn too_many_or_not_lists_are_refused() {
        let big: Vec<String> = (0..17).map(|i| i.to_string()).collect();
        let big: Vec<&str> = big.iter().map(String::as_str).collect();
        let err = combinations(&[axis("a", &big), axis("b", &big)]).unwrap_err();
        assert!(err.contains("289 combinations, more than the 256"), "{err}");
        let string = Param {
            name: "s".into(),
            value: ParamValue::String("x".into()),
        };
        assert!(combinations(&[string]).unwrap_err().contains("not a list"));
    }
}
