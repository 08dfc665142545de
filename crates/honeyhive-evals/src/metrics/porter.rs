//! The Porter stemmer exactly as NLTK's `PorterStemmer()` (mode `NLTK_EXTENSIONS`),
//! which `rouge-score` uses when `use_stemmer=True`.
//!
//! Input is one lower-case ASCII token (the ROUGE tokenizer produces only
//! `[a-z0-9]+`); rules are applied in NLTK's order with its first-match semantics.

const VOWELS: &[u8] = b"aeiou";

/// Words NLTK maps directly, before any rule.
fn irregular(word: &str) -> Option<&'static str> {
    Some(match word {
        "sky" | "skies" => "sky",
        "dying" => "die",
        "lying" => "lie",
        "tying" => "tie",
        "news" => "news",
        "innings" | "inning" => "inning",
        "outings" | "outing" => "outing",
        "cannings" | "canning" => "canning",
        "howe" => "howe",
        "proceed" => "proceed",
        "exceed" => "exceed",
        "succeed" => "succeed",
        _ => return None,
    })
}

/// Stems one token.
///
/// ```
/// use honeyhive_evals::metrics::porter_stem;
/// assert_eq!(porter_stem("running"), "run");
/// assert_eq!(porter_stem("relational"), "relat");
/// assert_eq!(porter_stem("dying"), "die");
/// ```
pub fn porter_stem(word: &str) -> String {
    let word = word.to_lowercase();
    if let Some(stem) = irregular(&word) {
        return stem.to_string();
    }
    if word.chars().count() <= 2 || !word.is_ascii() {
        return word;
    }
    let w = step1a(word);
    let w = step1b(w);
    let w = step1c(w);
    let w = step2(w);
    let w = step3(w);
    let w = step4(w);
    let w = step5a(w);
    step5b(w)
}

fn consonant_flags(word: &[u8]) -> Vec<bool> {
    let mut flags: Vec<bool> = Vec::with_capacity(word.len());
    for (i, ch) in word.iter().enumerate() {
        let flag = if VOWELS.contains(ch) {
            false
        } else if *ch == b'y' {
            i == 0 || !flags[i - 1]
        } else {
            true
        };
        flags.push(flag);
    }
    flags
}

fn is_consonant(word: &str, i: usize) -> bool {
    consonant_flags(word.as_bytes())[i]
}

fn measure(stem: &str) -> usize {
    let flags = consonant_flags(stem.as_bytes());
    flags.windows(2).filter(|w| !w[0] && w[1]).count()
}

fn positive_measure(stem: &str) -> bool {
    measure(stem) > 0
}

fn contains_vowel(stem: &str) -> bool {
    consonant_flags(stem.as_bytes()).iter().any(|c| !c)
}

fn ends_double_consonant(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 2 && b[b.len() - 1] == b[b.len() - 2] && is_consonant(word, b.len() - 1)
}

fn ends_cvc(word: &str) -> bool {
    let b = word.as_bytes();
    let n = b.len();
    (n >= 3
        && is_consonant(word, n - 3)
        && !is_consonant(word, n - 2)
        && is_consonant(word, n - 1)
        && !matches!(b[n - 1], b'w' | b'x' | b'y'))
        || (n == 2 && !is_consonant(word, 0) && is_consonant(word, 1))
}

/// A suffix rule: suffix, replacement, condition on the stem (`None`: unconditional).
type Rule<'a> = (&'a str, &'a str, Option<&'a dyn Fn(&str) -> bool>);

/// NLTK's `_apply_rule_list`: the first rule whose suffix matches decides, even when
/// its condition fails (then the word is returned unchanged).
fn apply_rules(word: String, rules: &[Rule<'_>]) -> String {
    for (suffix, replacement, condition) in rules {
        if *suffix == "*d" {
            if ends_double_consonant(&word) {
                let stem = &word[..word.len() - 2];
                return if condition.is_none_or(|c| c(stem)) {
                    format!("{stem}{replacement}")
                } else {
                    word
                };
            }
            continue;
        }
        if let Some(stem) = word.strip_suffix(suffix) {
            return if condition.is_none_or(|c| c(stem)) {
                format!("{stem}{replacement}")
            } else {
                word
            };
        }
    }
    word
}

fn replace_suffix(word: &str, suffix: &str, replacement: &str) -> String {
    format!("{}{replacement}", &word[..word.len() - suffix.len()])
}

fn step1a(word: String) -> String {
    if word.ends_with("ies") && word.len() == 4 {
        return replace_suffix(&word, "ies", "ie");
    }
    apply_rules(
        word,
        &[
            ("sses", "ss", None),
            ("ies", "i", None),
            ("ss", "ss", None),
            ("s", "", None),
        ],
    )
}

fn step1b(word: String) -> String {
    if word.ends_with("ied") {
        return if word.len() == 4 {
            replace_suffix(&word, "ied", "ie")
        } else {
            replace_suffix(&word, "ied", "i")
        };
    }
    if let Some(stem) = word.strip_suffix("eed") {
        return if measure(stem) > 0 {
            format!("{stem}ee")
        } else {
            word
        };
    }
    let mut intermediate = None;
    for suffix in ["ed", "ing"] {
        if let Some(stem) = word.strip_suffix(suffix)
            && contains_vowel(stem)
        {
            intermediate = Some(stem.to_string());
            break;
        }
    }
    let Some(stem) = intermediate else {
        return word;
    };
    let last = stem.chars().last().map(String::from).unwrap_or_default();
    let keep_double = |_: &str| !matches!(last.as_str(), "l" | "s" | "z");
    let add_e = |s: &str| measure(s) == 1 && ends_cvc(s);
    apply_rules(
        stem.clone(),
        &[
            ("at", "ate", None),
            ("bl", "ble", None),
            ("iz", "ize", None),
            ("*d", last.as_str(), Some(&keep_double)),
            ("", "e", Some(&add_e)),
        ],
    )
}

fn step1c(word: String) -> String {
    let condition = |stem: &str| stem.len() > 1 && is_consonant(stem, stem.len() - 1);
    apply_rules(word, &[("y", "i", Some(&condition))])
}

fn step2(word: String) -> String {
    if let Some(stem) = word.strip_suffix("alli")
        && positive_measure(stem)
    {
        return step2(replace_suffix(&word, "alli", "al"));
    }
    let pm: &dyn Fn(&str) -> bool = &positive_measure;
    let whole = word.clone();
    let logi = move |_: &str| positive_measure(&whole[..whole.len() - 3]);
    apply_rules(
        word,
        &[
            ("ational", "ate", Some(pm)),
            ("tional", "tion", Some(pm)),
            ("enci", "ence", Some(pm)),
            ("anci", "ance", Some(pm)),
            ("izer", "ize", Some(pm)),
            ("bli", "ble", Some(pm)),
            ("alli", "al", Some(pm)),
            ("entli", "ent", Some(pm)),
            ("eli", "e", Some(pm)),
            ("ousli", "ous", Some(pm)),
            ("ization", "ize", Some(pm)),
            ("ation", "ate", Some(pm)),
            ("ator", "ate", Some(pm)),
            ("alism", "al", Some(pm)),
            ("iveness", "ive", Some(pm)),
            ("fulness", "ful", Some(pm)),
            ("ousness", "ous", Some(pm)),
            ("aliti", "al", Some(pm)),
            ("iviti", "ive", Some(pm)),
            ("biliti", "ble", Some(pm)),
            ("fulli", "ful", Some(pm)),
            ("logi", "log", Some(&logi)),
        ],
    )
}

fn step3(word: String) -> String {
    let pm: &dyn Fn(&str) -> bool = &positive_measure;
    apply_rules(
        word,
        &[
            ("icate", "ic", Some(pm)),
            ("ative", "", Some(pm)),
            ("alize", "al", Some(pm)),
            ("iciti", "ic", Some(pm)),
            ("ical", "ic", Some(pm)),
            ("ful", "", Some(pm)),
            ("ness", "", Some(pm)),
        ],
    )
}

fn step4(word: String) -> String {
    let gt1: &dyn Fn(&str) -> bool = &|s: &str| measure(s) > 1;
    let ion = |s: &str| measure(s) > 1 && (s.ends_with('s') || s.ends_with('t'));
    apply_rules(
        word,
        &[
            ("al", "", Some(gt1)),
            ("ance", "", Some(gt1)),
            ("ence", "", Some(gt1)),
            ("er", "", Some(gt1)),
            ("ic", "", Some(gt1)),
            ("able", "", Some(gt1)),
            ("ible", "", Some(gt1)),
            ("ant", "", Some(gt1)),
            ("ement", "", Some(gt1)),
            ("ment", "", Some(gt1)),
            ("ent", "", Some(gt1)),
            ("ion", "", Some(&ion)),
            ("ou", "", Some(gt1)),
            ("ism", "", Some(gt1)),
            ("ate", "", Some(gt1)),
            ("iti", "", Some(gt1)),
            ("ous", "", Some(gt1)),
            ("ive", "", Some(gt1)),
            ("ize", "", Some(gt1)),
        ],
    )
}

fn step5a(word: String) -> String {
    if let Some(stem) = word.strip_suffix('e') {
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_string();
        }
    }
    word
}

fn step5b(word: String) -> String {
    let whole = word.clone();
    let condition = move |_: &str| measure(&whole[..whole.len() - 1]) > 1;
    apply_rules(word, &[("ll", "l", Some(&condition))])
}

#[cfg(test)]
mod tests {
    use super::porter_stem;

    #[test]
    fn stems_match_nltk_on_paper_examples() {
        // Expected values printed by nltk 3.10.4 PorterStemmer().stem(word).
        let cases = [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("conflated", "conflat"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("happy", "happi"),
            ("enjoy", "enjoy"),
            ("generalization", "gener"),
            ("hopefulness", "hope"),
            ("adoption", "adopt"),
            ("controlling", "control"),
            ("analogously", "analog"),
            ("skies", "sky"),
            ("spied", "spi"),
            ("died", "die"),
            ("sensibility", "sensibl"),
        ];
        for (word, expected) in cases {
            assert_eq!(porter_stem(word), expected, "{word}");
        }
    }
}
