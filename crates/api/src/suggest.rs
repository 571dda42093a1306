//! "Did you mean": the known names closest to one that was not found,
//! for the plugin's errors and the controller's messages alike.

/// The names among `known` closest to `name`: a typo away, or sharing its
/// start; best first.
pub fn similar<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut close: Vec<(usize, &str)> = known
        .into_iter()
        .filter(|k| *k != name)
        .filter_map(|k| {
            let distance = edit_distance(name, k);
            let near = distance <= 2.max(name.len() / 4) || (name.len() >= 3 && k.starts_with(name));
            near.then_some((distance, k))
        })
        .collect();
    close.sort();
    close.into_iter().take(3).map(|(_, k)| k).collect()
}

/// ` (did you mean "a" or "b"?)`, or nothing.
pub fn did_you_mean(candidates: &[&str]) -> String {
    let quoted: Vec<String> = candidates.iter().map(|c| format!("{c:?}")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => format!(" (did you mean {one}?)"),
        [first @ .., last] => format!(" (did you mean {} or {last}?)", first.join(", ")),
    }
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_suggestions() {
        let known = ["hello", "build-image", "build-docs", "test"];
        assert_eq!(similar("helo", known), ["hello"]);
        assert_eq!(similar("build", known), ["build-docs", "build-image"]);
        assert!(similar("zzzzzz", known).is_empty());
        assert_eq!(did_you_mean(&["hello"]), " (did you mean \"hello\"?)");
        assert_eq!(did_you_mean(&["a", "b", "c"]), " (did you mean \"a\", \"b\" or \"c\"?)");
        assert_eq!(did_you_mean(&[]), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
