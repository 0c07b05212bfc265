"""The command line: global flags reach every subcommand (issue 15.7)."""

from __future__ import annotations

import pytest

from cockpit.cli import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["engine", "stop", "--flatten"],
        ["engine", "status"],
        ["engine", "start"],
        ["engine", "run"],
        ["journal", "export"],
        [],
    ],
)
def test_the_global_profile_and_config_reach_every_subcommand(argv: list[str]) -> None:
    args = build_parser().parse_args(["--profile", "x", "--config", "c.toml", *argv])
    assert args.profile == "x"
    assert args.config == "c.toml"


@pytest.mark.parametrize("argv", [["engine", "stop"], ["journal", "export"], []])
def test_without_flags_the_default_profile(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).profile == "default"


def test_a_subcommand_flag_wins_over_the_global_one() -> None:
    args = build_parser().parse_args(["--profile", "x", "engine", "stop", "--profile", "y"])
    assert args.profile == "y"


def test_global_venue_flags_reach_engine() -> None:
    args = build_parser().parse_args(
        ["--broker", "openalgo", "--host", "http://h", "--journal", "j", "engine", "run"]
    )
    assert (args.broker, args.host, args.journal) == ("openalgo", "http://h", "j")
