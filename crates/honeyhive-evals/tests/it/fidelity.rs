//! ROUGE-1/2/L (stemming off and on) and BLEU equal the Python reference
//! implementations (`rouge-score`, `sacrebleu`, pinned in the testkit's
//! `python/requirements.txt`) to 1e-6 on the committed corpus
//! `tests/data/rouge_bleu_corpus.jsonl` (regenerate with `tests/data/gen_corpus.py`).
//!
//! The interpreter comes from `honeyhive_testkit::python` (skipped outside CI on a
//! machine without `python3`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use honeyhive_evals::metrics::{RougeKind, porter_stem, rouge, rouge_tokenize, sentence_bleu};
use honeyhive_testkit::python;
use serde_json::Value;

const TOLERANCE: f64 = 1e-6;

fn corpus() -> (String, Vec<(String, String)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rouge_bleu_corpus.jsonl");
    let text = std::fs::read_to_string(&path).expect("read the corpus");
    let pairs = text
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("corpus lines are json");
            let get = |k: &str| {
                v[k].as_str()
                    .expect("prediction and reference are strings")
                    .to_string()
            };
            (get("prediction"), get("reference"))
        })
        .collect();
    (text, pairs)
}

/// Runs a Python program with `input` on stdin and returns its stdout lines.
fn run_python(python: &Path, args: &[&str], input: &str) -> Vec<String> {
    let mut child = Command::new(python)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the reference script");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .expect("wait for the reference script");
    writer
        .join()
        .expect("writer thread")
        .expect("write the corpus to python");
    assert!(
        output.status.success(),
        "python {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8 output")
        .lines()
        .map(str::to_string)
        .collect()
}

fn reference_scores(python: &Path, corpus_text: &str) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/reference_scores.py");
    let script = script.to_str().expect("utf-8 path");
    run_python(python, &[script], corpus_text)
        .iter()
        .map(|l| serde_json::from_str(l).expect("reference lines are json"))
        .collect()
}

#[test]
fn porter_stemmer_equals_nltk_on_every_corpus_and_suffix_word() {
    let Some(py) = python::interpreter() else {
        return;
    };
    let (_, pairs) = corpus();
    let list = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/stemmer_words.txt"),
    )
    .expect("read stemmer_words.txt");
    let mut words: Vec<String> = list.lines().map(str::to_string).collect();
    for (p, r) in &pairs {
        words.extend(rouge_tokenize(p, false));
        words.extend(rouge_tokenize(r, false));
    }
    words.retain(|w| w.len() > 3);
    words.sort();
    words.dedup();
    assert!(words.len() > 3000, "vocabulary too small: {}", words.len());
    let program = "import sys\nfrom nltk.stem import porter\ns = porter.PorterStemmer()\nfor w in sys.stdin.read().split():\n    print(s.stem(w))";
    let expected = run_python(&py, &["-c", program], &words.join("\n"));
    assert_eq!(expected.len(), words.len());
    let wrong: Vec<String> = words
        .iter()
        .zip(&expected)
        .filter(|(w, want)| porter_stem(w) != **want)
        .map(|(w, want)| format!("{w}: ours={} nltk={want}", porter_stem(w)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} stems differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn rouge_and_bleu_equal_the_python_reference_implementations() {
    let Some(py) = python::interpreter() else {
        return;
    };
    let (text, pairs) = corpus();
    assert!(
        pairs.len() >= 200,
        "the corpus must hold at least 200 pairs, has {}",
        pairs.len()
    );
    let expected = reference_scores(&py, &text);
    assert_eq!(expected.len(), pairs.len(), "one reference line per pair");

    let mut mismatches = Vec::new();
    let mut checked = 0usize;
    for (i, ((prediction, reference), want)) in pairs.iter().zip(&expected).enumerate() {
        let mut ours: Vec<(String, f64)> = Vec::new();
        for (stem, suffix) in [(false, ""), (true, "_stem")] {
            for kind in [RougeKind::Rouge1, RougeKind::Rouge2, RougeKind::RougeL] {
                let score = rouge(kind, prediction, reference, stem).fmeasure;
                ours.push((format!("{}{suffix}", kind.name()), score));
            }
        }
        ours.push((
            "bleu".into(),
            sentence_bleu(prediction, &[reference.as_str()]).score,
        ));
        for (metric, got) in ours {
            let want = want[&metric]
                .as_f64()
                .expect("reference scores are numbers");
            checked += 1;
            if (got - want).abs() > TOLERANCE {
                mismatches.push(format!(
                    "line {}: {metric} ours={got} python={want}\n  prediction={prediction:?}\n  reference={reference:?}",
                    i + 1
                ));
            }
        }
    }
    assert_eq!(checked, pairs.len() * 7);
    assert!(
        mismatches.is_empty(),
        "{} of {checked} scores differ from the reference:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn corpus_generator_is_reproducible() {
    let Some(py) = python::interpreter() else {
        return;
    };
    // The committed corpus must be what the committed generator writes, so the
    // corpus can be extended by editing the script. Compare a fresh run's output in
    // a temp copy against the committed file.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let temp = std::env::temp_dir().join(format!("hh-evals-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&temp).expect("temp dir");
    std::fs::copy(dir.join("gen_corpus.py"), temp.join("gen_corpus.py"))
        .expect("copy the generator");
    let status = Command::new(&py)
        .arg(temp.join("gen_corpus.py"))
        .stdout(Stdio::null())
        .status()
        .expect("run the generator");
    assert!(status.success());
    for file in ["rouge_bleu_corpus.jsonl", "stemmer_words.txt"] {
        let fresh = std::fs::read(temp.join(file)).expect("generated file");
        let committed = std::fs::read(dir.join(file)).expect("committed file");
        assert!(
            fresh == committed,
            "tests/data/{file} is stale: rerun gen_corpus.py"
        );
    }
    let _ = std::fs::remove_dir_all(&temp);
}
