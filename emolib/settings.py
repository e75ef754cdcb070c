"""Every setting of a training run, defined once: its default, its check, its command-line option and its help.

:class:`Settings` is the one table (:class:`emolib.train.TrainConfig` adds the checks that need the models).
``python -m emolib train`` builds its options from ``dataclasses.fields(Settings)`` (:func:`add_options`),
:func:`emolib.train.train` records every field in the run's ``config.json`` (:meth:`Settings.record`), and :data:`CONSTRAINTS` holds each numeric check, also used by
:func:`emolib.models.build_emonet`. No TensorFlow is imported here, so ``--help`` stays fast.

Example
-------
>>> Settings(epochs=3).schedule
'cosine'
>>> option_of("mixup_alpha")
'--mixup'
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

from .precision import PRECISIONS, choose_precision

if TYPE_CHECKING:
    import keras

#: A model to learn from (a teacher, or the weights to start from): a saved Keras file, a loaded model, or "shipped".
Teacher = "str | os.PathLike[str] | keras.Model"

#: The checks of a numeric setting: name -> (test, what a good value is). :func:`check` raises
#: ``ValueError("NAME is WHAT, not VALUE")``; the command line swaps NAME for the option's name.
CONSTRAINTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "epochs": (lambda v: v >= 1, "a count of passes over the training faces, 1 or more"),
    "batch_size": (lambda v: v >= 1, "a count of faces, 1 or more"),
    "warmup_epochs": (lambda v: v >= 0, "a count of epochs, 0 or more"),
    "patience": (lambda v: v >= 1, "a count of epochs, 1 or more"),
    "train_size": (lambda v: v >= 1, "a count of training faces, 1 or more"),
    "mixup_alpha": (lambda v: v > 0, "a positive alpha (e.g. 0.2)"),
    "distill_alpha": (lambda v: 0 < v <= 1, "the teachers' share of the target, above 0 and at most 1"),
    "dropout": (lambda v: 0 <= v < 0.5, "a rate from 0 to below 0.5 (the head's is twice it)"),
    "ema": (lambda v: 0 < v < 1, "a momentum between 0 and 1 (e.g. 0.999)"),
    "width": (lambda v: v >= 1, "a count of filters, 1 or more"),
}


def check(name: str, value: Any) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` passes its :data:`CONSTRAINTS` entry (None passes).

    >>> check("dropout", 0.1)
    >>> check("dropout", 0.5)
    Traceback (most recent call last):
    ...
    ValueError: dropout is a rate from 0 to below 0.5 (the head's is twice it), not 0.5
    """
    if value is None:
        return
    test, what = CONSTRAINTS[name]
    try:
        ok = bool(test(value)) and not isinstance(value, bool)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} is {what}, not {value!r}")


def _setting(default: Any, help: str, *, option: str | None = None, metavar: str | None = None,
             choices: Sequence[str] | None = None, scale: float = 1.0, cli: bool = True) -> Any:
    """A :class:`Settings` field and how the command line offers it (``scale``: the option's value times it)."""
    return field(default=default, metadata=dict(help=help, option=option, metavar=metavar, choices=choices,
                                                scale=scale, cli=cli))


#: emonet's settings that the command line offers; they go into ``TrainConfig.model_kwargs``. Their defaults are
#: :func:`emolib.models.build_emonet`'s (a test compares them).
MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "width": dict(type=int, default=32, help="emonet's first-block filters (the shipped network has 48)"),
    "aug": dict(choices=("crop40", "crop40-erase"), default="crop40",
                help="emonet's training augmentation (crop40-erase adds random erasing)"),
    "ema": dict(type=float, default=None, metavar="MOMENTUM",
                help="emonet: validate and save an exponential moving average of the weights (e.g. 0.999)"),
    "optimizer": dict(choices=("adamw", "sgd"), default="adamw",
                      help="emonet's optimizer (sgd is SGD with Nesterov momentum 0.9)"),
    "dropout": dict(type=float, default=0.2, metavar="RATE",
                    help="emonet's dropout after each block; the head's is twice it"),
}
#: The model settings that only emonet takes.
EMONET_ONLY = frozenset(MODEL_OPTIONS) | {"size", "convs"}
SCHEDULES = ("plateau", "cosine")
S = TypeVar("S", bound="Settings")


@dataclass
class Settings:
    """Every setting of a training run: its default, help and option, checked when made (a ``ValueError`` naming it).

    :class:`emolib.train.TrainConfig` adds the checks that need the models (architecture, model files).

    >>> Settings(schedule="linear")
    Traceback (most recent call last):
    ...
    ValueError: unknown schedule 'linear'; choose 'plateau' or 'cosine'
    """

    arch: str = _setting("emonet", "architecture: emonet or seed (the seed project's CNN)")
    epochs: int = _setting(60, "passes over the training faces")
    batch_size: int = _setting(64, "faces per training step")
    schedule: str = _setting("cosine", "cosine: warm-up + cosine decay over the epochs/budget; plateau: the seed's "
                                       "(lower the rate, then stop, when PublicTest stops improving)",
                             choices=SCHEDULES)
    learning_rate: float | None = _setting(None, "base learning rate; none: the model's own", option="--lr",
                                           metavar="RATE")
    warmup_epochs: int = _setting(2, "cosine schedule: epochs of linear warm-up before the decay", metavar="N")
    budget_s: float | None = _setting(None, "wall-clock budget in minutes; training stops in time",
                                      option="--budget-minutes", metavar="MINUTES", scale=60)
    patience: int = _setting(10, "plateau schedule: epochs without progress")
    class_weight: bool = _setting(False, "weigh each class's loss by the inverse of its share of the faces")
    train_size: int | None = _setting(None, "train on a class-stratified random subset of this many faces",
                                      metavar="N")
    seed: int = _setting(0, "random seed")
    precision: str = _setting("auto", "auto: mixed bfloat16 where the CPU has bfloat16 units (AVX512-BF16 or AMX), "
                                      "float32 elsewhere, where bfloat16 is emulated and about ten times slower; "
                                      "the choice is printed and recorded in the run's config.json",
                              choices=PRECISIONS)
    model_kwargs: dict | None = _setting(None, "the model's settings (build_emonet's)", cli=False)
    mixup_alpha: float | None = _setting(None, "blend training images and labels in pairs (mixup), weights drawn "
                                               "from Beta(ALPHA, ALPHA), e.g. 0.2", option="--mixup", metavar="ALPHA")
    teachers: Teacher | Sequence[Teacher] | None = _setting(None, "knowledge distillation: a trained model file whose probabilities on the training "
                                   "faces become part of each target (repeat for an ensemble of teachers); "
                                   "'shipped' is the network shipped with emolib (the class recipe's teacher), "
                                   "'none' turns the recipe's teacher off", option="--teacher", metavar="PATH")
    distill_alpha: float = _setting(0.5, "with --teacher: the teachers' share of each target, the rest is the "
                                         "smoothed label", metavar="A")
    init_from: Teacher | None = _setting(None, "fine-tune: start from this trained model's weights (same architecture and "
                                    "width) instead of random ones; pair it with a smaller --lr",
                              option="--init", metavar="PATH")

    def __post_init__(self) -> None:
        choose_precision(self.precision)  # a ValueError naming the choices
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose 'plateau' or 'cosine'")
        kwargs = self.model_kwargs or {}
        emonet_only = sorted(set(kwargs) & EMONET_ONLY)
        if self.arch != "emonet" and emonet_only:
            raise ValueError(f"the model settings {', '.join(emonet_only)} apply to emonet only, not to {self.arch!r}")
        for name in CONSTRAINTS:
            if name == "distill_alpha" and self.teachers is None:
                continue
            check(name, kwargs.get(name) if name in MODEL_OPTIONS else getattr(self, name))

    def record(self) -> dict[str, Any]:
        """Every field as ``config.json`` keeps it: paths as text, a model in memory by its name.

        >>> Settings(epochs=3).record()["epochs"]
        3
        """
        def plain(value: Any) -> Any:
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if isinstance(value, os.PathLike):
                return str(value)
            if value is None or isinstance(value, (str, int, float, bool, dict)):
                return value
            return f"{getattr(value, 'name', type(value).__name__)} (in memory)"

        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


def option_of(name: str) -> str:
    """The command-line option that sets the setting ``name`` (a TrainConfig field or a model setting), else ``name``.

    >>> option_of("init_from"), option_of("dropout"), option_of("teacher")
    ('--init', '--dropout', 'teacher')
    """
    for f in fields(Settings):
        if f.name == name and f.metadata["cli"]:
            return f.metadata["option"] or "--" + name.replace("_", "-")
    return "--" + name.replace("_", "-") if name in MODEL_OPTIONS else name


#: The command line's type of each field's annotation (any other: text).
_TYPES: dict[str, type] = {"int": int, "int | None": int, "float": float, "float | None": float}


def _default_text(value: Any) -> str:
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add an option for each :class:`Settings` field and each of :data:`MODEL_OPTIONS`, its help ending with
    the default. Every option defaults to None (unset), so that a recipe's value stays unless the option is given.
    """
    for f in fields(Settings):
        m = f.metadata
        if not m["cli"]:
            continue
        kw: dict[str, Any] = dict(default=None, help=f"{m['help']} (default: {_default_text(f.default)})")
        if f.name == "teachers":
            kw.update(action="append")
        elif f.type == "bool":
            kw.update(action="store_true")
        else:
            kw.update(type=_TYPES.get(f.type, str))
        if m["choices"]:
            kw.update(choices=m["choices"])
        if m["metavar"]:
            kw.update(metavar=m["metavar"])
        parser.add_argument(option_of(f.name), dest=f.name, **kw)
    for name, spec in MODEL_OPTIONS.items():
        spec = dict(spec)
        default = spec.pop("default")
        spec["help"] += f" (default: {_default_text(default)})"
        parser.add_argument(option_of(name), dest=name, default=None, **spec)


def config_from_options(args: argparse.Namespace, recipe: dict | None = None, kind: type[S] | None = None) -> S:
    """The settings of a recipe (a dict) with the options given in ``args`` over it, as ``kind`` (default
    :class:`Settings`; the command line asks for a :class:`emolib.train.TrainConfig`).

    A bad setting is a ``ValueError`` that names its option (``--dropout is a rate ...``).

    >>> p = argparse.ArgumentParser(); add_options(p)
    >>> config_from_options(p.parse_args(["--epochs", "3", "--budget-minutes", "2"]), {"epochs": 9}).budget_s
    120.0
    """
    settings = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (recipe or {}).items()}
    for f in fields(Settings):
        value = getattr(args, f.name, None) if f.metadata["cli"] else None
        if value is not None:
            settings[f.name] = value * f.metadata["scale"] if f.metadata["scale"] != 1 else value
    if getattr(args, "teachers", None):  # teachers given replace the recipe's; "none" trains on the labels alone
        settings["teachers"] = None if args.teachers == ["none"] else args.teachers
    if getattr(args, "distill_alpha", None) is not None and not settings.get("teachers"):
        raise ValueError("--distill-alpha needs at least one --teacher")
    model_kwargs = dict(settings.pop("model_kwargs", None) or {})
    model_kwargs.update({k: getattr(args, k) for k in MODEL_OPTIONS if getattr(args, k, None) is not None})
    try:
        return (kind or Settings)(**settings, model_kwargs=model_kwargs or None)
    except ValueError as err:  # e.g. a missing teacher file (ModelFileError is a ValueError)
        message = str(err)
        name = message.split(" ", 1)[0]
        raise ValueError(f"{option_of(name)}{message[len(name):]}") from None


__all__ = ["CONSTRAINTS", "EMONET_ONLY", "MODEL_OPTIONS", "SCHEDULES", "Settings", "add_options", "check",
           "config_from_options", "option_of"]
