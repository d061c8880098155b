"""Entry point: parse, dispatch to a subcommand, turn errors into one line and an exit code.

Exit codes are part of the interface: 0 ok, 1 internal error (a bug: one line, the traceback
behind --debug or BATCHFIT_DEBUG=1), 2 bad input, 3 nothing fits the budget or deadline, 4 the
probe failed, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from planner import __version__, interrupts
from planner.deadline import hung_threads
from planner.cli import diff_cmd, plan_cmd, probe_cmd, quotes_cmd, schema_cmd
from planner.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED, BatchfitError
from providers.errors import CatalogError, QuoteFilterError


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
    for command in sub.choices.values():
        command.add_argument("--debug", action="store_true",
                             help="show the traceback of an internal error (or set BATCHFIT_DEBUG=1)")
    return parser


def _debug(args: argparse.Namespace | None) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("BATCHFIT_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["tui"])
    restore = interrupts.install()
    try:
        return int(args.run(args))
    except BatchfitError as exc:
        sys.stderr.write(f"batchfit: error: {exc}\n")
        return exc.exit_code
    except (CatalogError, QuoteFilterError) as exc:
        sys.stderr.write(f"batchfit: error: {exc}\n")
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # user code (a factory's loader, a loss) exiting must not pick batchfit's exit code
        sys.stderr.write(f"batchfit: error: the model's code called sys.exit({exc.code!r}); "
                         "a factory, loader or loss must return or raise, not exit\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (interrupts.Terminated)
        terminated = isinstance(exc, interrupts.Terminated)
        sys.stderr.write("batchfit: terminated (SIGTERM)\n" if terminated else "batchfit: interrupted\n")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except Exception as exc:  # a bug: one line, the traceback on request
        if _debug(args):
            traceback.print_exc()
        where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
        sys.stderr.write(f"batchfit: internal error: {type(exc).__name__}: {one_line(exc)}{at}; this is a bug in "
                         "batchfit: re-run with --debug (or BATCHFIT_DEBUG=1) for the traceback and report it\n")
        return EXIT_INTERNAL
    finally:
        restore()


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else "(no message)"


def run() -> None:
    code = main()
    if hung_threads():  # a probe abandoned at its time limit: its thread, blocked in the user's code, must not keep us
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
