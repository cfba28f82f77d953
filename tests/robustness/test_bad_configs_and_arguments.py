"""Bad experiment configs and bad command-line arguments, through the real entry point
(``gnn4hep.cli.main.main``): exit code 2, a message naming the key/option/file, no traceback, and
no run folder (finished or staging) left behind by a config that never started.

The runner-level checks of the same config errors (the ConfigError text) are in
tests/runner/test_runner.py; this file checks what a user sees on the command line.
"""

from __future__ import annotations

import pytest

from gnn4hep.cli.main import main

GOOD = "name: demo\nseed: 3\nstages: [score_demo]\ndemo:\n  n_particles: 30\n"


def _cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return info.value.code, out, " ".join(err.split())  # rich wraps long lines: compare with single spaces


BAD_CONFIGS = {
    "unknown top-level key": (GOOD + "bogus: 1\n", "unknown key 'bogus'"),
    "typo in a section key": (GOOD.replace("n_particles", "n_particle"), "unknown key 'demo.n_particle'; allowed here: event, n_particles, reassign_fraction"),
    "section of a stage not run": (GOOD + "trainer: {max_epochs: 2}\n", "unknown key 'trainer'"),
    "wrong type": (GOOD.replace("n_particles: 30", "n_particles: many"), "key 'demo.n_particles': Input should be a valid integer"),
    "float for an int": (GOOD.replace("seed: 3", "seed: 2.5"), "key 'seed'"),
    "value out of range": (GOOD.replace("seed: 3", "seed: -1"), "key 'seed': Input should be greater than or equal to 0"),
    "section given as a value": (GOOD.replace("demo:\n  n_particles: 30\n", "demo: 5\n"), "key 'demo'"),
    "missing required key": ("stages: [score_demo]\n", "missing required key 'name'"),
    "unknown stage": (GOOD.replace("[score_demo]", "[score_demo, no_such_stage]"), "unknown stage 'no_such_stage'"),
    "stages not a list": (GOOD.replace("[score_demo]", "score_demo"), "key 'stages' must be a non-empty list"),
    "empty stage list": (GOOD.replace("[score_demo]", "[]"), "key 'stages' must be a non-empty list"),
    "unparsable YAML": ("name: [unclosed\nstages: [score_demo]\n", "invalid YAML (line"),
    "tab indentation": (GOOD.replace("  n_particles", "\tn_particles"), "invalid YAML (line 5"),
    "duplicate key": (GOOD + "seed: 4\n", "invalid YAML (line 6, column 1): key 'seed' is given twice (first on line 2)"),
    "empty file": ("", "the config file is empty"),
    "list at top level": ("- a\n- b\n", "the top level of a config must be a mapping"),
    "scalar at top level": ("just words\n", "the top level of a config must be a mapping"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_one_clear_error(case, tmp_path, capsys):
    text, message = BAD_CONFIGS[case]
    config = tmp_path / "config.yaml"
    config.write_text(text)
    code, out, err = _cli(capsys, "run", config, "--out", tmp_path / "runs" / "r")
    assert code == 2, (case, out, err)
    assert f"{config}: " in err and message in err, (case, err)
    assert "Traceback" not in err + out
    assert not (tmp_path / "runs").exists()  # no run folder, no .r.partial


def test_config_file_that_is_not_text_or_missing(tmp_path, capsys):
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00name")
    cases = [
        ((tmp_path / "absent.yaml",), "absent.yaml: config file not found"),
        ((tmp_path,), f"{tmp_path}: config file not found"),
        ((binary,), "bin.yaml: not a UTF-8 text file"),
    ]
    for args, message in cases:
        code, out, err = _cli(capsys, "run", *args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)


BAD_OVERRIDES = {
    "no equals sign": ("trainer.max_epochs", "override 'trainer.max_epochs' must look like key=value"),
    "empty key": ("=3", "override '=3' has an empty key"),
    "empty key part": ("demo..n_particles=3", "override 'demo..n_particles=3' has an empty key"),
    "into a value": ("name.x=1", "override 'name.x=1': 'name' is a value, not a section"),
    "not a number": ("demo.n_particles=abc", "key 'demo.n_particles': Input should be a valid integer"),
    "fraction for an int": ("seed=1.5", "key 'seed': Input should be a valid integer, got a number with a fractional part"),
    "unknown key": ("demo.colour=red", "unknown key 'demo.colour'"),
    "unknown stage": ("stages=[nope]", "unknown stage 'nope'"),
    "broken YAML value": ("demo.reassign_fraction=[0.1,", "key 'demo.reassign_fraction': Input should be a valid number"),
}


@pytest.mark.parametrize("case", sorted(BAD_OVERRIDES))
def test_bad_override_is_one_clear_error(case, tmp_path, capsys):
    override, message = BAD_OVERRIDES[case]
    config = tmp_path / "config.yaml"
    config.write_text(GOOD)
    code, out, err = _cli(capsys, "run", config, "-o", override, "--out", tmp_path / "runs" / "r")
    assert code == 2 and message in err and "Traceback" not in err + out, (case, err)
    assert not (tmp_path / "runs").exists()


def test_bad_run_arguments(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(GOOD)
    (tmp_path / "taken").mkdir()
    cases = [
        (("run",), "give a CONFIG file (or --resume RUN)"),
        (("run", config, "--out", tmp_path / "taken"), "run folder already exists"),
        (("run", "--resume", tmp_path / "absent"), "no unfinished run to resume there"),
        (("run", "--resume", tmp_path / "taken"), "no unfinished run to resume there"),
        (("runs", "show", "absent", "--root", tmp_path), "absent: no run folder of that name or path"),
        (("runs", "list", "--root", config), "is a file, not a folder of runs"),
        (("no-such-command",), "No such command 'no-such-command'"),
    ]
    for args, message in cases:
        code, out, err = _cli(capsys, *args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)


def test_bad_numbers_and_paths_in_other_commands(tmp_path, capsys):
    cases = [
        (("score", tmp_path / "ev", tmp_path / "sub.csv", "--pt-min", "abc"), "Invalid value for '--pt-min'"),
        (("score", tmp_path / "ev", tmp_path / "sub.csv", "--min-hits", "2.5"), "Invalid value for '--min-hits'"),
        (("score", tmp_path / "ev", tmp_path / "sub.csv"), f"{tmp_path / 'ev'}: an event prefix ends with 'eventNNNNNNNNN'"),
        (("simulate", "--out", tmp_path / "s", "--events", "-3"), "Invalid value for '--events'"),
        (("simulate", "--out", tmp_path / "s", "--efficiency", "1.5"), "Invalid value for '--efficiency'"),
        (("simulate", "--out", tmp_path / "s", "--source", "replay:/no/such/folder"), "replay path '/no/such/folder' does not exist"),
        (("simulate", "--out", tmp_path / "s", "--source", "bogus"), "'bogus' is not one of"),
        (("fit", tmp_path / "ev", tmp_path / "c.csv", "--out", tmp_path / "p.csv"), f"{tmp_path / 'ev'}: an event prefix ends with"),
        (("qubo", "build", tmp_path / "event000000001", "-o", tmp_path / "q.json"), f"{tmp_path / 'event000000001'}: no event files"),
        (("qubo", "solve", tmp_path / "q.json", "-o", tmp_path / "s.csv"), "q.json: file not found"),
        (("jets", "generate", "--jets", "0", "--out", tmp_path / "j"), "Invalid value for '--jets'"),
        (("jets", "generate", "--process", "zz", "--out", tmp_path / "j"), "'zz' is not one of top, w, qg"),
    ]
    for args, message in cases:
        code, out, err = _cli(capsys, *args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
    assert not (tmp_path / "s").exists() and not (tmp_path / "j").exists()


def test_stage_stopped_by_bad_input_prints_one_line_and_can_resume(tmp_path, capsys):
    """A config that validates but names a missing event: the run stops in its stage with one line on
    the console (the traceback is in log.txt), the staging folder resumes with a corrected override."""
    config = tmp_path / "config.yaml"
    config.write_text(GOOD)
    missing = tmp_path / "absent" / "event000000001"
    code, out, err = _cli(capsys, "run", config, "-o", f"demo.event={missing}", "--out", tmp_path / "r")
    assert code == 2 and f"{missing}-hits.csv: no hits file" in err and "Traceback" not in err + out, err
    staging = tmp_path / ".r.partial"
    assert staging.is_dir() and not (tmp_path / "r").exists()
    log = (staging / "log.txt").read_text()
    assert "run failed" in log and "Traceback" in log
    code, out, err = _cli(capsys, "run", "--resume", staging, "-o", "demo.event=null")
    assert code == 0, err
    assert (tmp_path / "r" / "metrics.json").is_file() and not staging.exists()
