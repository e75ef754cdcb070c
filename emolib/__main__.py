"""Command line: ``python -m emolib train ...`` (see ``python -m emolib --help``)."""
from __future__ import annotations

import argparse
import sys


def _train(args: argparse.Namespace) -> int:
    from .train import set_threads

    set_threads(args.threads)
    from .data import DataError, load_fer2013
    from .train import train

    try:
        data = load_fer2013(args.data)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result = train(
        args.arch, data, args.out, epochs=args.epochs, batch_size=args.batch_size,
        schedule=args.schedule, learning_rate=args.lr, budget_s=args.budget_minutes * 60 if args.budget_minutes else None,
        patience=args.patience, class_weight=args.class_weight, quick=args.quick, seed=args.seed,
        verbose=2 if args.log_epochs else "auto",
    )
    print(f"best val (PublicTest) accuracy {result.best_val_accuracy:.4f} at epoch {result.best_epoch}; "
          f"model: {result.model_path}; {result.wall_time_s:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emolib", description="Emojimation tools")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model on FER2013 (selects on PublicTest)")
    t.add_argument("--arch", default="emonet", help="architecture: emonet or seed")
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--schedule", choices=["plateau", "cosine"], default="plateau")
    t.add_argument("--lr", type=float, default=None, help="base learning rate (default: the model's)")
    t.add_argument("--budget-minutes", type=float, default=None, help="wall-clock budget; training stops in time")
    t.add_argument("--patience", type=int, default=10)
    t.add_argument("--class-weight", action="store_true")
    t.add_argument("--quick", action="store_true", help="8,000-image subset, 4 epochs")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads")
    t.add_argument("--data", default=None, help="FER2013 location (default: $EMOLIB_DATA or data/fer2013)")
    t.add_argument("--out", required=True, help="run folder: checkpoints, history, best.keras")
    t.add_argument("--log-epochs", action="store_true", help="one line per epoch instead of a progress bar")
    t.set_defaults(func=_train)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
