"""Front end: trusted mode — run a Python file under real Python with `torch` mapped to gradcalc.

`gradcalc run --trusted FILE` (or `python -m gradcalc.trusted FILE`): no sandbox, no limits;
the file may do anything Python can (plot, read files, import its own modules). Every
`import torch...` resolves to the one gradcalc copy of that module, loaded once: `torch.nn` is
`gradcalc.nn`, `torch.utils.data` is `gradcalc.utils.data`, so a Parameter made through one
spelling is the Parameter class of every other. For code you trust only.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys

ALIAS = "torch"
TARGET = "gradcalc"


class TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import `torch` and `torch.X.Y` as the modules `gradcalc` and `gradcalc.X.Y` themselves."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        real = TARGET + fullname[len(ALIAS):]
        try:
            real_spec = importlib.util.find_spec(real)
        except (ImportError, ValueError):
            return None
        if real_spec is None:
            return None
        spec = importlib.util.spec_from_loader(fullname, self,
                                               is_package=real_spec.submodule_search_locations
                                               is not None)
        spec.loader_state = {"name": real}
        return spec

    def create_module(self, spec):
        module = importlib.import_module(spec.loader_state["name"])  # itself, not a copy
        spec.loader_state["spec"] = module.__spec__
        return module

    def exec_module(self, module):
        # importlib set the alias's spec on the module: give it back its own
        module.__spec__ = module.__spec__.loader_state["spec"]


def install() -> TorchAlias:
    """Make `import torch...` give gradcalc's modules in this process (idempotent)."""
    for finder in sys.meta_path:
        if isinstance(finder, TorchAlias):
            return finder
    finder = TorchAlias()
    sys.meta_path.insert(0, finder)
    return finder


def run_file(path: str, argv: list[str] | None = None) -> int:
    """Run the Python file `path` as `__main__` with torch mapped to gradcalc; its exit code."""
    install()
    sys.argv = [path, *(argv or [])]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except BaseException as e:  # noqa: BLE001 - the script's own error, reported as Python does
        _print_script_traceback(e, path)
        return 130 if isinstance(e, KeyboardInterrupt) else 1
    return 0


def _print_script_traceback(e: BaseException, path: str) -> None:
    """The traceback Python prints for a script: from the script's first frame on."""
    import traceback

    tb = e.__traceback__
    want = os.path.abspath(path)
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != want:
        tb = tb.tb_next
    traceback.print_exception(type(e), e, tb if tb is not None else e.__traceback__)


def main(argv: list[str] | None = None) -> int:
    """`python -m gradcalc.trusted FILE [ARGS...]`."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m gradcalc.trusted FILE [ARGS...]", file=sys.stderr)
        return 2
    return run_file(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
