"""How the ``gnn4hep`` command ends: one line per error, exit code 2 for bad input.

The app runs with Click's standalone mode off, so every error reaches :func:`run_app`, which prints it
as a single line ``error: <message>`` on stderr, with rich markup off (a path such as ``runs/[/x]``
is printed as given, never parsed as a style tag) and no wrapping. Bad input is:

* a usage error found by Click or by an option's parser (:mod:`gnn4hep.cli.params`), which names the
  option;
* a :class:`gnn4hep.errors.Gnn4hepError` raised by a reader, a writer or the runner, which names the file,
  column or key;
* an ``OSError`` about a named file (unreadable, no space left, a folder where a file should be), which
  names the file.

Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Optional

from rich.text import Text

from gnn4hep.errors import Gnn4hepError

BAD_INPUT = 2
INTERRUPTED = 130


def one_line(message: str) -> str:
    """``message`` on one line: line breaks become '; ', runs of spaces one space."""
    parts = [" ".join(line.split()) for line in str(message).splitlines()]
    return "; ".join(part for part in parts if part)


def report_error(message: str, hint: str = "") -> None:
    """Print ``error: message`` (plus an optional hint) as one line on stderr, markup never parsed."""
    from gnn4hep.cli.common import err_console

    text = Text.assemble(("error: ", "bold red"), one_line(message))
    if hint:
        text.append(f" ({hint})", style="dim")
    err_console.print(text, soft_wrap=True, highlight=False, markup=False)


def _click_errors() -> tuple[type, type]:
    """Click's UsageError and NoArgsIsHelpError: typer >= 0.2x vendors its own copy of Click, older
    typer uses the click package (NoArgsIsHelpError since Click 8.2)."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    usage = exceptions.UsageError
    return usage, getattr(exceptions, "NoArgsIsHelpError", type("NoArgsIsHelpError", (usage,), {}))


def run_app(app, argv: Optional[list[str]] = None) -> int:
    """Run the typer ``app`` on ``argv``; return its exit code after printing any error as one line."""
    from typer import Abort

    UsageError, NoArgsIsHelpError = _click_errors()

    try:
        code = app(args=argv, standalone_mode=False, prog_name="gnn4hep")
    except NoArgsIsHelpError as exc:  # `gnn4hep qubo` alone: its help, as Click gives it
        exc.show()
        return BAD_INPUT
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "gnn4hep"
        report_error(exc.format_message(), hint=f"see: {command} --help")
        return BAD_INPUT
    except Gnn4hepError as exc:
        report_error(str(exc))
        return BAD_INPUT
    except OSError as exc:
        if exc.filename is None:
            raise
        where = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
        report_error(f"{where}: {exc.strerror or exc}")
        return BAD_INPUT
    except (Abort, KeyboardInterrupt):
        report_error("interrupted")
        return INTERRUPTED
    if code == INTERRUPTED:  # typer turns Ctrl-C inside a command into exit code 130, silently
        report_error("interrupted")
    return code if isinstance(code, int) else 0

