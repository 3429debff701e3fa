"""`o3v` at the prompt: --help grouped by stage with a purpose and an example per command (every example
parses), bad arguments as one line naming the argument with exit 2, progress on stderr and data on stdout."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from o3v.cli import STAGES, build_parser, main


def _commands() -> dict[str, object]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return sub.choices


def test_help_lists_every_command_once_by_stage_with_an_example(capsys) -> None:
    listed = [name for _, commands in STAGES for name, _ in commands]
    assert sorted(listed) == sorted(_commands()) and len(listed) == len(set(listed))
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "commands, by stage:" in out
    for stage, commands in STAGES:
        assert f"\n  {stage}\n" in out
        for name, example in commands:
            assert f"\n    {name:<16} " in out and f"e.g. {example}\n" in out
    assert "[score | run | report | unseen]" in out  # command groups name their subcommands
    assert out.index("synth ") < out.index("curate ") < out.index("sft ") < out.index("eval ") < out.index("lineage ")


@pytest.mark.parametrize("example", [ex for _, commands in STAGES for _, ex in commands])
def test_every_example_parses(example: str) -> None:
    argv = shlex.split(example)
    assert argv[0] == "o3v"
    args = build_parser().parse_args(argv[1:])
    assert callable(getattr(args, "func", None)), example


@pytest.mark.parametrize(
    "argv, names",
    [
        (["synth", "--out", "x", "--seed", "1", "--videos", "0"], "argument --videos: must be >= 1"),
        (["synth", "--out", "x"], "the following arguments are required: --videos, --seed"),
        (["validate", "ds", "--suite", "final"], "argument --suite: invalid choice: 'final'"),
        (["nosuch"], "argument COMMAND: invalid choice: 'nosuch'"),
        (["eval", "run", "--model", "m", "--limit", "many"], "argument --limit: invalid int value: 'many'"),
        (["model"], "required: MODEL_COMMAND"),
        (["parse", "--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_bad_arguments_are_one_line_naming_the_argument_and_exit_2(argv, names, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    captured = capsys.readouterr()
    assert exc.value.code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and names in captured.err, captured.err
    assert captured.err.startswith("o3v") and "usage:" not in captured.err


def test_a_long_command_prints_progress_on_stderr_and_only_json_on_stdout(synth_world, tmp_path) -> None:
    """`o3v annotate` in a real process: its stdout pipes straight into a JSON parser."""
    proc = subprocess.run(
        [sys.executable, "-m", "o3v.cli", "annotate", str(synth_world), "--out", str(tmp_path / "a")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads(proc.stdout)
    assert stats["stage"] == "annotate" and stats["kept"] > 0
    assert "pre-flight" in proc.stderr  # the progress bar and the log lines went to stderr


def test_parse_output_is_one_json_line(capsys, monkeypatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"<think>x</think><answer>B</answer>")))
    assert main(["parse"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out)["answer"] == "B"


def test_synth_preset_choices_are_the_world_presets() -> None:
    """The parser lists the presets literally (importing o3v.synth would slow every --help): they must agree."""
    from o3v.synth.world import PRESETS

    (preset,) = [a for a in _commands()["synth"]._actions if a.dest == "preset"]
    assert set(preset.choices) == set(PRESETS)
