//! Names that must fit Kubernetes' limits, shortened deterministically.

/// Label values are at most 63 characters.
const MAX_LABEL_VALUE: usize = 63;

/// A label value that identifies `name`: the name itself when it fits.
pub fn label_value(name: &str) -> String {
    shorten(name, "", MAX_LABEL_VALUE)
}

/// `name + suffix` when it fits in `max`; otherwise a prefix of `name`, a
/// hash of the whole name (so two long names never collide on a shared
/// prefix), then the suffix. The same input always gives the same name.
pub fn shorten(name: &str, suffix: &str, max: usize) -> String {
    if name.len() + suffix.len() <= max {
        return format!("{name}{suffix}");
    }
    let hash = format!("{:016x}", fnv1a(name.as_bytes()));
    let keep = max.saturating_sub(suffix.len() + hash.len() + 1);
    // Object names are ASCII, so a byte index is a char boundary; `get`
    // keeps any other input from panicking. Trim so the prefix ends in an
    // alphanumeric, as DNS labels must.
    let prefix = name.get(..keep).unwrap_or("").trim_end_matches(['-', '.']);
    format!("{prefix}-{hash}{suffix}")
}

/// FNV-1a, 64 bits: stable across releases and platforms, unlike std's hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn short_names_are_kept() {
        assert_eq!(label_value("hello"), "hello");
        assert_eq!(shorten("run", "-pod", 63), "run-pod");
    }

    #[test]
    fn long_names_are_hashed_to_fit() {
        let long = format!("{}-run", "a".repeat(100));
        let short = shorten(&long, "-pod", 63);
        assert_eq!(short.len(), 63);
        assert!(short.ends_with("-pod"));
        assert_eq!(short, shorten(&long, "-pod", 63), "deterministic");
        assert_ne!(
            short,
            shorten(&format!("{long}2"), "-pod", 63),
            "a shared prefix does not collide"
        );
        assert_eq!(label_value(&long).len(), 63);
    }

    #[test]
    fn a_name_that_just_fits_is_not_hashed() {
        let name = "b".repeat(59);
        assert_eq!(shorten(&name, "-pod", 63), format!("{name}-pod"));
        assert_ne!(shorten(&"b".repeat(60), "-pod", 63), format!("{}-pod", "b".repeat(60)));
    }

    #[test]
    fn the_prefix_never_ends_in_a_separator() {
        let name = format!("{}.-{}", "c".repeat(40), "d".repeat(40));
        let short = shorten(&name, "-pod", 63);
        assert!(!short.contains(".-") && !short.contains("--"), "{short}");
    }

    #[test]
    fn odd_input_does_not_panic() {
        let multibyte = "é".repeat(60);
        assert!(shorten(&multibyte, "-pod", 63).ends_with("-pod"));
        assert!(!shorten("x", "-a-very-long-suffix", 5).is_empty());
    }
}
