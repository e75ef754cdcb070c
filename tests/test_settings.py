"""Settings (TrainConfig's fields) is the one table of training settings: the command line, its errors and the checks follow from it."""
from __future__ import annotations

import argparse
import inspect
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from emolib.settings import CONSTRAINTS, MODEL_OPTIONS, Settings, add_options, check, config_from_options, option_of
from emolib.train import TrainConfig

REPO = Path(__file__).resolve().parent.parent


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_options(p)
    return p


@pytest.fixture(scope="module")
def train_help() -> str:
    """``python -m emolib train --help`` as a user sees it, on one line (argparse wraps it)."""
    proc = subprocess.run([sys.executable, "-m", "emolib", "train", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "2000"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_train_help_states_each_settings_option_and_trainconfigs_default(train_help):
    # one entry per option: its first word, then its help on one line
    blocks = re.split(r"\n(?=  -)", train_help.split("options:", 1)[1])
    entries = {b.split()[0].rstrip(","): " ".join(b.split()) for b in blocks if b.strip()}
    offered = [f for f in fields(Settings) if f.metadata["cli"]]
    assert {f.name for f in fields(Settings)} - {f.name for f in offered} == {"model_kwargs"}
    for f in offered:
        default = "none" if f.default is None else str(f.default).lower()
        entry = entries.get(option_of(f.name))
        assert entry is not None, f"{option_of(f.name)} missing from train --help"
        assert re.search(rf"\(default: {re.escape(default)}\)$", entry), (f.name, entry)
    for name, spec in MODEL_OPTIONS.items():
        default = "none" if spec["default"] is None else str(spec["default"])
        assert entries[f"--{name}"].endswith(f"(default: {default})"), name


def test_no_option_given_is_trainconfigs_defaults():
    """Without a recipe or option, the command line trains what train() trains (cosine, 60 epochs, ...)."""
    assert config_from_options(parser().parse_args([]), None, TrainConfig) == TrainConfig()
    assert TrainConfig().schedule == "cosine"


def test_model_options_default_to_build_emonets_own():
    from emolib.models import OPTIMIZER_DEFAULTS, build_emonet

    signature = inspect.signature(build_emonet).parameters
    for name, spec in MODEL_OPTIONS.items():
        assert signature[name].default == spec["default"], name
    assert set(MODEL_OPTIONS["optimizer"]["choices"]) == set(OPTIMIZER_DEFAULTS)


def test_options_land_in_their_field_and_override_the_recipe():
    args = parser().parse_args(["--epochs", "3", "--budget-minutes", "1.5", "--mixup", "0.2", "--lr", "0.01",
                                "--dropout", "0.1", "--teacher", "none"])
    config = config_from_options(args, {"epochs": 9, "teachers": "shipped", "model_kwargs": {"width": 24}})
    assert (config.epochs, config.budget_s, config.mixup_alpha, config.learning_rate) == (3, 90.0, 0.2, 0.01)
    assert config.model_kwargs == {"width": 24, "dropout": 0.1} and config.teachers is None


@pytest.mark.parametrize("name, bad", [("epochs", 0), ("batch_size", -1), ("warmup_epochs", -1), ("patience", 0),
                                       ("mixup_alpha", 0.0), ("dropout", 0.5), ("ema", 1.0)])
def test_each_constraint_is_checked_once_and_named_by_its_option(name, bad):
    what = CONSTRAINTS[name][1]
    with pytest.raises(ValueError, match=re.escape(f"{name} is {what}, not {bad!r}")):
        check(name, bad)
    settings = {"model_kwargs": {name: bad}} if name in MODEL_OPTIONS else {name: bad}
    with pytest.raises(ValueError, match=re.escape(f"{name} is {what}")):
        TrainConfig(**settings)
    with pytest.raises(ValueError, match=re.escape(f"{option_of(name)} is {what}")):
        config_from_options(parser().parse_args([option_of(name), str(bad)]), None)


def test_distill_alpha_is_checked_only_with_a_teacher():
    assert TrainConfig(distill_alpha=7).distill_alpha == 7  # unused without a teacher
    with pytest.raises(ValueError, match="--distill-alpha is the teachers' share of the target"):
        config_from_options(parser().parse_args(["--teacher", "shipped", "--distill-alpha", "0"]), None)
    with pytest.raises(ValueError, match="--distill-alpha needs at least one --teacher"):
        config_from_options(parser().parse_args(["--distill-alpha", "0.3"]), None)


def test_build_emonet_uses_the_same_checks():
    from emolib.models import build_emonet

    for name, bad in (("dropout", 0.5), ("ema", 1.5)):
        with pytest.raises(ValueError, match=re.escape(f"{name} is {CONSTRAINTS[name][1]}, not {bad!r}")):
            build_emonet(**{name: bad})


def test_record_holds_every_field_as_json():
    import json

    record = TrainConfig(init_from=None, epochs=4).record()
    assert list(record) == list(Settings().record())
    assert list(record) == [f.name for f in fields(Settings)] and record["epochs"] == 4
    json.dumps(record)
