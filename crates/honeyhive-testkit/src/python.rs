//! The Python interpreter of the tests that check against Python: the official
//! `honeyhive` client driven against `hh serve`, and the reference implementations
//! (rouge-score, sacrebleu, nltk) the evaluators must agree with.
//!
//! Which interpreter, in order:
//! 1. `HH_CONFORMANCE_PYTHON`, when set (`.ci/run` sets it to the venv it makes).
//! 2. The venv [`venv_dir`] (`target/conformance-venv`), when it was made from the
//!    current [`requirements`] file: the venv keeps a copy of the file it was
//!    installed from, and `.ci/run` compares the two the same way.
//! 3. Outside CI, that venv made now with `python3` and installed from
//!    [`requirements`] (pip reaches PyPI once; later runs reuse it).
//!
//! Under CI (`CI=true`) a test must not pass without running: with no interpreter by
//! 1 or 2, [`interpreter`] fails the test and says what is missing. Outside CI, on a
//! machine without `python3`, it prints that the test was skipped and why, and
//! returns `None`; the test returns early.
//!
//! ```no_run
//! let Some(python) = honeyhive_testkit::python::interpreter() else {
//!     return; // skipped: no python3 on this machine, outside CI
//! };
//! let status = std::process::Command::new(python)
//!     .args(["-c", "import rouge_score"])
//!     .status()
//!     .expect("run python");
//! assert!(status.success());
//! ```

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Names the interpreter to use instead of the venv.
pub const PYTHON_ENV: &str = "HH_CONFORMANCE_PYTHON";

/// What the interpreter must have installed: `crates/honeyhive-testkit/python/requirements.txt`.
pub fn requirements() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/requirements.txt")
}

/// The venv `.ci/run` makes, and the kit makes outside CI: `target/conformance-venv`
/// under the workspace root.
pub fn venv_dir() -> PathBuf {
    workspace_root().join("target/conformance-venv")
}

/// Whether this is a CI run (`CI` set to `true` or `1`, as CI services set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The interpreter for this test, or `None` when the test is to be skipped (outside
/// CI, no `python3`; the reason is printed). Fails the test under CI when there is no
/// interpreter, and anywhere when making the venv fails.
///
/// The first call in a process settles the interpreter (and makes the venv if it
/// has to) while other tests of the binary wait for it.
pub fn interpreter() -> Option<PathBuf> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(find) {
        Ok(python) => Some(python.clone()),
        Err(why) => {
            let test = std::thread::current()
                .name()
                .unwrap_or("a test needing python")
                .to_string();
            // Straight to the process's stderr: the harness's capture would hide a
            // line printed by a test that passes.
            let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
            None
        }
    }
}

/// `Ok(interpreter)`, `Err(why the test is skipped)`, or a panic (CI, or a broken setup).
fn find() -> Result<PathBuf, String> {
    if let Some(python) = std::env::var_os(PYTHON_ENV) {
        let python = PathBuf::from(python);
        assert!(
            python.exists(),
            "{PYTHON_ENV}={} does not exist",
            python.display()
        );
        return Ok(python);
    }
    let venv = venv_dir();
    let python = venv.join("bin/python");
    if python.exists() && made_from_requirements(&venv) {
        return Ok(python);
    }
    let requirements = requirements();
    assert!(
        !in_ci(),
        "CI=true, and there is no Python for the tests that check against it: \
         {PYTHON_ENV} is unset and {} was not made from {} (.ci/run makes it)",
        venv.display(),
        requirements.display()
    );
    match Command::new("python3").arg("--version").output() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(format!(
                "python3 is not installed and {PYTHON_ENV} is unset (under CI=true this fails)"
            ));
        }
        Err(e) => panic!("running python3: {e}"),
        Ok(_) => {}
    }
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("run python3 -m venv");
    assert!(
        status.success(),
        "python3 -m venv {} failed",
        venv.display()
    );
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .status()
        .expect("run pip");
    assert!(
        status.success(),
        "pip install -r {} failed",
        requirements.display()
    );
    std::fs::copy(&requirements, venv.join("requirements.txt")).unwrap_or_else(|e| {
        panic!(
            "copying {} into {}: {e}",
            requirements.display(),
            venv.display()
        )
    });
    Ok(python)
}

/// Whether the venv holds a copy of the current requirements (it was installed from them).
fn made_from_requirements(venv: &Path) -> bool {
    match (
        std::fs::read(venv.join("requirements.txt")),
        std::fs::read(requirements()),
    ) {
        (Ok(installed), Ok(wanted)) => installed == wanted,
        _ => false,
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the testkit sits two levels below the workspace root")
        .to_path_buf()
}
