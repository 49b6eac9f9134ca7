"""The ``facegen`` console script: one entry point composing every folder's commands.

- ``generator/head_commands.py``: ``mesh``, ``preview``
- ``generator/spec_commands.py``: ``spec validate``, ``spec show``
- ``generator/dataset_commands.py``: ``render``, ``relabel``, ``inspect``, ``view``, ``stats``
- ``generator/export_commands.py``: ``export``
- ``trainer/commands.py``: ``train``, ``evaluate``, ``predict``

Each module registers its subcommands through ``add_parser(subparsers)`` and imports its heavy
dependencies (bpy, pyrender, torch) only inside the command that needs them. Bad input raises
``facegen.errors.UserError``; ``main`` prints it as one line ``facegen: error: ...`` and returns 2.
"""

from __future__ import annotations

import argparse
import sys

from facegen.errors import UserError
from facegen.user_input import one_line, surrogate_free


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is a ``UserError``: one line and exit code 2."""

    def error(self, message):
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The ``facegen`` parser with every subcommand registered."""
    from facegen.generator import dataset_commands, export_commands, head_commands, spec_commands
    from facegen.trainer import commands as trainer_commands

    parser = _Parser(prog="facegen", description="Synthetic face datasets with dense, editable landmarks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in (head_commands, spec_commands, dataset_commands, export_commands, trainer_commands):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``facegen`` command; returns the exit code (0 ok, 2 bad input, 130 interrupted)."""
    try:
        argv = sys.argv[1:] if argv is None else argv
        bad = next((i for i, a in enumerate(argv) if not surrogate_free(str(a))), None)
        if bad is not None:  # bytes that are not UTF-8 (Python keeps them as lone surrogates)
            raise UserError(f"argument {bad + 1} ({ascii(argv[bad])[:80]}) is not valid UTF-8")
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help printed the usage (errors raise UserError: _Parser.error)
            return exc.code if isinstance(exc.code, int) else 0
        return args.func(args)
    except UserError as exc:
        print(f"facegen: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("facegen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
