"""Entry point: parse, dispatch to a subcommand, turn errors into one line and an exit code.

Exit codes are part of the interface: 0 ok, 2 bad input, 3 nothing fits the budget or
deadline, 4 the probe failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from planner import __version__
from planner.cli import diff_cmd, plan_cmd, probe_cmd, quotes_cmd, schema_cmd
from planner.errors import EXIT_BAD_INPUT, BatchfitError
from providers.errors import CatalogError

EXIT_INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the fix, with exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _open_tui(args: argparse.Namespace) -> int:
    # The TUI is loaded only when asked for: headless commands never import textual.
    app = importlib.import_module("tui.app")
    return app.run_app(request_path=args.request, probe_path=args.probe)


def _register_tui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tui", help="open the interactive terminal app (the default with no command)")
    p.add_argument("--request", type=str, default=None, help="preload a plan request (.toml or .json)")
    p.add_argument("--probe", type=str, default=None, help="preload a saved probe report (.json)")
    p.set_defaults(run=_open_tui)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="batchfit",
        description="Which batch size, on which cloud instance, with which learning rate, at what cost and time.",
    )
    parser.add_argument("--version", action="version", version=f"batchfit {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser)
    for module in (probe_cmd, plan_cmd, quotes_cmd, diff_cmd, schema_cmd):
        module.register(sub)
    _register_tui(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["tui"])
    try:
        return int(args.run(args))
    except BatchfitError as exc:
        sys.stderr.write(f"batchfit: error: {exc}\n")
        return exc.exit_code
    except CatalogError as exc:
        sys.stderr.write(f"batchfit: error: {exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("batchfit: interrupted\n")
        return EXIT_INTERRUPTED


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
