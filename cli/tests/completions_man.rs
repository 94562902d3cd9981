//! `payhsm completions` and `payhsm man`, generated from the same clap definitions that parse
//! the command line: bash completes a command and an option, the man pages render in groff.

mod common;

use std::process::Command;

use common::payhsm;

/// What bash's completion function offers for `words`, the last one being completed.
fn bash_complete(script: &str, words: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payhsm.bash");
    std::fs::write(&path, script).unwrap();
    let program = format!(
        "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
         _payhsm payhsm \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         echo \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn bash_completes_commands_and_options() {
    let run = payhsm(&["completions", "bash"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("complete -F _payhsm"), "{}", run.stdout);
    assert_eq!(bash_complete(&run.stdout, "payhsm create-k"), "create-key");
    assert_eq!(bash_complete(&run.stdout, "payhsm verify-ma"), "verify-mac");
    assert_eq!(
        bash_complete(&run.stdout, "payhsm calc kcv --me"),
        "--method"
    );
    assert_eq!(
        bash_complete(&run.stdout, "payhsm create-key --key-att"),
        "--key-attributes"
    );
    // The global options are offered where they mean something, not to the calculator.
    assert_eq!(
        bash_complete(&run.stdout, "payhsm get-key --sto"),
        "--store"
    );
    assert_eq!(bash_complete(&run.stdout, "payhsm calc kcv --sto"), "");
}

#[test]
fn zsh_and_fish_scripts_name_the_commands() {
    let zsh = payhsm(&["completions", "zsh"]);
    assert_eq!(zsh.code, 0, "{}", zsh.stderr);
    assert!(zsh.stdout.starts_with("#compdef payhsm"), "{}", zsh.stdout);
    assert!(
        zsh.stdout
            .contains("'create-key:Creates a key inside the HSM'")
    );
    let fish = payhsm(&["completions", "fish"]);
    assert_eq!(fish.code, 0, "{}", fish.stderr);
    assert!(
        fish.stdout
            .contains("-a \"create-key\" -d 'Creates a key inside the HSM'"),
        "{}",
        fish.stdout
    );
    let bad = payhsm(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.one_line_error()
            == "error: invalid value 'tcsh' for '<SHELL>'; did you mean 'zsh'? Expected one of \
                'bash', 'elvish', 'fish', 'powershell', 'zsh'. Run with --help for usage.",
        "{}",
        bad.stderr
    );
}

/// Renders a man page as `man` does (groff after preconv, `-k`), with every warning on (`-ww`).
fn groff(page: &[u8]) -> Option<String> {
    let mut child = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), page).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "groff: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn man_pages_cover_every_command_and_render() {
    let run = payhsm(&["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(".TH payhsm 1"), "{}", run.stdout);
    assert!(run.stdout.contains("Exit codes:"));
    assert!(run.stdout.contains("payhsm\\-create\\-key(1)"));
    if let Some(text) = groff(run.stdout.as_bytes()) {
        assert!(text.contains("create-key"), "{text}");
    }
    let dir = tempfile::tempdir().unwrap();
    let run = payhsm(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for page in [
        "payhsm.1",
        "payhsm-create-key.1",
        "payhsm-calc-kcv.1",
        "payhsm-completions.1",
    ] {
        let roff = std::fs::read(dir.path().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        if let Some(text) = groff(&roff) {
            assert!(!text.trim().is_empty(), "{page}");
        }
    }
    let create_key = std::fs::read_to_string(dir.path().join("payhsm-create-key.1")).unwrap();
    assert!(
        create_key.contains("\\-\\-key\\-attributes"),
        "{create_key}"
    );
    let missing = payhsm(&["man", "--out-dir", "/nonexistent/dir"]);
    assert_eq!(missing.code, 255);
    assert!(
        missing
            .one_line_error()
            .starts_with("error: cannot write the man page: "),
        "{}",
        missing.stderr
    );
}
