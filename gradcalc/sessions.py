"""CLI layer: a Session made from command-line option values — the limits (an error from a limit
names the option that raises it) and the capabilities granted (--allow-files); shared by the
command line and the REPL.

(Moved intact from gradcalc.cli, so that gradcalc.repl needs no import of it.)
"""

from __future__ import annotations

from gradcalc.terminal import write_out

#: the deepest --max-recursion: a nested script call costs 5 to 15 Python frames and some C
#: stack; measured, a module's forward recursing through a comprehension and a lambda
#: overflowed the 8 MB C stack (a crash, not an error) past about 2,000 nested calls
MAX_RECURSION_CAP = 1_000


#: Limits field -> the option that sets it (named in the message of the LimitError it raises)
LIMIT_OPTIONS = {"max_elements": "--max-elements", "max_memory": "--max-memory",
                 "max_recursion": "--max-recursion", "max_iterations": "--max-iterations",
                 "max_flops": "--max-flops"}
#: the value each option takes, as a LimitError's hint writes it
_LIMIT_METAVARS = {"max_memory": "SIZE"}


def make_session(opts: dict, *, echo: bool = True, write=None):
    """A Session with the command's limits; a limit's error names the option that raises it."""
    from gradcalc.lang import Limits, Session

    given = {k: opts[k] for k in ("timeout", *LIMIT_OPTIONS) if opts.get(k) is not None}
    if "max_memory" in given:
        from gradcalc.lang.limits import parse_size

        given["max_memory"] = parse_size(given["max_memory"])
    hints = {k: f"{o} {_LIMIT_METAVARS.get(k, 'N')}" for k, o in LIMIT_OPTIONS.items()}
    hints["timeout"] = "--timeout S"
    if given.get("max_recursion", 0) >= MAX_RECURSION_CAP:
        hints["max_recursion"] = ""  # already as high as it goes
    limits = Limits(**given, hints=hints)
    session = Session(echo=echo, write=write or write_out, limits=limits)
    grant_files(session, opts)
    return session


def grant_files(session, opts: dict) -> None:
    """save_graph for scripts: it writes only into the --allow-files directory, else refuses."""
    directory = opts.get("allow_files")
    if not directory:
        session.registry.grant("save_graph", _no_files)
        return
    from gradcalc.scriptfiles import FileGrant, save_graph_builtin

    session.registry.grant("save_graph", save_graph_builtin(session, FileGrant(directory)))


def _no_files(*args, **kwargs):
    """save_graph without --allow-files: the one-line refusal naming the flag."""
    from gradcalc.scriptfiles import refusal

    raise refusal("save_graph()")
