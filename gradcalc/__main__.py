"""Entry point: `gradcalc` and `python -m gradcalc` (thin: all the work is in gradcalc.cli)."""

import sys


def main() -> None:
    """Console script: run the command line and exit with its code."""
    from gradcalc.cli import main as cli_main
    from gradcalc.cli import silence_stdout

    code = cli_main()
    try:  # what is still buffered goes out now, not in the interpreter's own flush at exit
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away after the last write: end quietly
        silence_stdout()
    sys.exit(code)


if __name__ == "__main__":
    main()
