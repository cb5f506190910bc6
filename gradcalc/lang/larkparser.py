"""Language layer, Lark side: the LALR parser Lark builds from grammar/gradcalc.lark.

Imported only when needed: to parse text the lean driver in `gradcalc.lang.parser` rejects,
so that syntax errors are found, positioned and worded by Lark's own loop (that parser is
loaded from lark_tables.json, plain data shipped in the package: no pickle, no cache), and to
generate the two JSON table files (`python -m gradcalc.lang.larkparser`).
"""

from __future__ import annotations

import functools
import json
import sys

import lark
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.grammar import Rule
from lark.lexer import PatternStr, TerminalDef, UnlessCallback
from lark.parse_tree_builder import (
    ChildFilterLALR,
    ChildFilterLALR_NoPlaceholders,
    ExpandSingleChild,
)
from lark.parsers.lalr_analysis import Shift

from gradcalc.errors import IncompleteInput, ParseError
from gradcalc.lang import parser as P

START = ("file_input", "eval_input")
LARK_TABLES = "lark_tables.json"  # Lark's serialised parser, for syntax errors


class Indenter:
    """Post-lexer: INDENT/DEDENT tokens, newlines dropped inside brackets, bracket matching.

    (The lean driver in parser.py does the same inline; this one also remembers the tokens
    around an error for the messages.)
    """

    always_accept = ("_NEWLINE",)
    tab_len = 8

    def process(self, stream):
        self.brackets = []  # open bracket tokens
        self.indents = [0]
        self.prev = None  # the token before the one being handed out
        self.last = None
        return self._process(stream)

    def _process(self, stream):
        tok = None
        brackets, indents = self.brackets, self.indents
        for tok in stream:
            t = tok.type
            if t == "_NEWLINE":
                if brackets:
                    continue
                self.prev, self.last = self.last, tok
                yield tok
                indent_str = tok.rsplit("\n", 1)[1]
                indent = len(indent_str)
                if "\t" in indent_str:
                    indent += indent_str.count("\t") * (self.tab_len - 1)
                if indent > indents[-1]:
                    indents.append(indent)
                    tok = Token.new_borrow_pos("_INDENT", indent_str, tok)
                    self.prev, self.last = self.last, tok
                    yield tok
                elif indent < indents[-1]:
                    while indent < indents[-1]:
                        indents.pop()
                        tok = Token.new_borrow_pos("_DEDENT", indent_str, tok)
                        self.prev, self.last = self.last, tok
                        yield tok
                    if indent != indents[-1]:
                        raise P._SyntaxAt(
                            "unindent does not match any outer indentation level",
                            tok.end_line,
                            indent + 1,
                        )
                continue
            if t in P._OPEN:
                brackets.append(tok)
            elif t in P._CLOSE:
                if not brackets:
                    raise P._SyntaxAt(f"unmatched '{tok.value}'", tok.line, tok.column)
                opener = brackets.pop()
                if opener.value != P._CLOSE[t]:
                    raise P._SyntaxAt(
                        f"closing '{tok.value}' does not match opening '{opener.value}' "
                        f"at {opener.line}:{opener.column}",
                        tok.line,
                        tok.column,
                    )
            self.prev, self.last = self.last, tok
            yield tok
        while len(indents) > 1:
            indents.pop()
            if tok is not None:
                tok = Token.new_borrow_pos("_DEDENT", "", tok)
            else:
                tok = Token("_DEDENT", "", 0, 1, 1, 1, 1, 0)
            self.prev, self.last = self.last, tok
            yield tok


def _transformer() -> Transformer:
    """parser._Builder's callbacks as Lark's inline transformer."""
    methods = {k: v for k, v in vars(P._Builder).items()
               if not k.startswith("_") and callable(v)}
    return v_args(inline=True)(type("_LarkBuilder", (Transformer,), methods))()


def build() -> Lark:
    """Lark's parser built from the grammar text (about 0.4 s; nothing is read or written)."""
    lark_ = Lark(
        P.grammar_text(),
        parser="lalr",
        lexer="contextual",
        start=list(START),
        postlex=Indenter(),
        transformer=_transformer(),
        maybe_placeholders=True,
    )
    # a terminal's flags are a frozenset, whose order (hash order) Lark's regexes follow:
    # sorted, the exported files do not depend on PYTHONHASHSEED (the scanners are built lazily)
    for t in lark_.terminals:
        t.pattern.flags = tuple(sorted(t.pattern.flags))
    return lark_


def _release(version: str) -> str:
    """'1.3' of '1.3.1': Lark keeps its serialised form within a minor release."""
    return ".".join(version.split(".")[:2])


def load() -> Lark | None:
    """Lark's parser from the plain data shipped beside this module (LARK_TABLES), or None
    when that data is not this grammar's, this format's and this Lark release's (the caller
    then builds it from the grammar text)."""
    try:
        with open(P.tables_path(LARK_TABLES), encoding="utf-8") as f:
            d = json.load(f, object_hook=_decode)
        if (type(d) is not dict or d.get("format") != P.FORMAT
                or _release(str(d.get("lark"))) != _release(lark.__version__)
                or d.get("grammar") != P.grammar_text()):
            return None
        # Lark's own plain-data loader (what its standalone parsers run); Lark.load and the
        # cache= option would unpickle instead. Only Lark's TerminalDef/Rule/pattern classes
        # can be named by the data.
        return Lark._load_from_dict(d["data"], d["memo"], postlex=Indenter(),
                                    transformer=_transformer())
    except (OSError, ValueError, TypeError, KeyError, AttributeError, AssertionError,
            LarkError):
        return None


_LARK: list = [None]


def get() -> Lark:
    """The Lark parser: loaded from the shipped data, else built from the grammar text."""
    if _LARK[0] is None:
        _LARK[0] = load() or build()
    return _LARK[0]


def raw_parse(text: str, start: str):
    """Lark's parse of prepared text; raises Lark's exceptions (and parser._SyntaxAt)."""
    lark_ = get()
    P._IN_LARK[0] += 1
    try:
        return lark_.parse(text, start=start)
    finally:
        P._IN_LARK[0] -= 1


def parse(prepared: str, source: str, start: str):
    """Parse with Lark's loop; syntax errors become ParseError/IncompleteInput."""
    lark_ = get()
    try:
        return raw_parse(prepared, start)
    except (UnexpectedInput, P._SyntaxAt) as e:
        raise _translate(e, prepared, source, lark_.options.postlex) from None
    except RecursionError:
        raise ParseError("the expression is nested too deeply", source=source, line=1,
                         column=1) from None


# ---- the tables, as plain data: the lean driver's and Lark's own ----


class _Unsupported(Exception):
    """The built parser uses a Lark feature the lean driver does not reproduce."""


def _canonical_states(table) -> dict[int, int]:
    """Lark's state number -> a number that depends on the grammar alone.

    Lark numbers LALR states in an order that follows string hashes (it changes with
    PYTHONHASHSEED); numbering them breadth-first from the start states, each state's
    successors in symbol order, makes the exported files reproducible."""
    states = table.states
    order: dict[int, int] = {}
    queue = [table.start_states[k] for k in sorted(table.start_states)]
    for s in queue:
        if s not in order:
            order[s] = len(order)
    i = 0
    while i < len(queue):
        for sym in sorted(states[queue[i]]):
            action, arg = states[queue[i]][sym]
            if action is Shift and arg not in order:
                order[arg] = len(order)
                queue.append(arg)
        i += 1
    if len(order) != len(states):
        raise _Unsupported("unreachable states")
    return order


def _scanner_info(basic):
    """(terminal names in match order, {regex terminal: {literal text: literal terminal}},
    combined patterns) of one of Lark's basic lexers."""
    scanner = basic.scanner
    unless: dict[str, dict[str, str]] = {}
    for name, cb in basic.callback.items():
        if type(cb) is not UnlessCallback:
            raise _Unsupported(f"lexer callback on {name}")
        literals: dict[str, str] = {}
        for t in cb.scanner.terminals:
            if type(t.pattern) is not PatternStr or t.pattern.flags:
                raise _Unsupported(f"unless terminal {t.name}")
            literals.setdefault(t.pattern.value, t.name)
        unless[name] = literals
    return [t.name for t in scanner.terminals], unless, [m.pattern for m in scanner._mres]


def _rule_spec(rule, cb):
    """[origin, size, callback name, expand single child, kept children, Nones appended]."""
    include, append_none, expand1 = None, 0, False
    f = cb
    if type(f) is ChildFilterLALR:
        include = [[int(i), bool(e), int(n)] for i, e, n in f.to_include]
        append_none = int(f.append_none)
        f = f.node_builder
    elif type(f) is ChildFilterLALR_NoPlaceholders:
        include = [[int(i), bool(e), 0] for i, e in f.to_include]
        f = f.node_builder
    if type(f) is ExpandSingleChild:
        expand1 = True
        f = f.node_builder
    name = rule.alias or rule.options.template_source or rule.origin.name
    default = isinstance(f, functools.partial)
    if not default and getattr(f, "__name__", None) != name:
        raise _Unsupported(f"callback chain of {rule}")
    if default == hasattr(P._Builder, name) and not name.startswith("_"):
        raise _Unsupported(f"callback for {name}")
    return [rule.origin.name, len(rule.expansion), name, expand1, include, append_none]


def export_tables(lark_: Lark) -> dict | None:
    """Everything the lean driver needs, packed as parser._Lean reads it (JSON-able); None if
    the grammar uses a Lark feature the driver does not reproduce."""
    try:
        return _export(lark_)
    except (_Unsupported, AttributeError, TypeError, KeyError, ValueError):
        return None


def _export(lark_: Lark) -> dict:
    frontend = lark_.parser
    inner = frontend.parser.parser
    table = inner.parse_table
    order = _canonical_states(table)
    by_new = sorted(order, key=order.__getitem__)
    callbacks = inner.callbacks
    rule_ids: dict = {}
    rules: list = []
    symbol_sets: dict = {}  # the distinct rows' symbol lists, by first use
    rows: list = []  # per state: [symbol set, actions]; an action >= 0 is the next state
    for old in by_new:  # (shift, goto), < 0 reduces rule ~action
        actions = table.states[old]
        symbols = sorted(actions)
        row = []
        for sym in symbols:
            action, arg = actions[sym]
            if action is Shift:
                row.append(order[arg])
            else:
                rid = rule_ids.get(arg)
                if rid is None:
                    rid = rule_ids[arg] = len(rules)
                    rules.append(_rule_spec(arg, callbacks[arg]))
                row.append(~rid)
        rows.append([symbol_sets.setdefault(tuple(symbols), len(symbol_sets)), row])

    contextual = frontend.lexer.lexer
    if frontend.lexer.postlexer is not lark_.options.postlex:
        raise _Unsupported("post-lexer")
    root = contextual.root_lexer
    if root.g_regex_flags or root.use_bytes or root.re.__name__ != "re":
        raise _Unsupported("regex options")
    terminals = {t.name: t for t in lark_.terminals}
    root_names, root_unless, root_patterns = _scanner_info(root)
    root_rank = {name: i for i, name in enumerate(root_names)}
    configs: dict[int, int] = {}
    cfgs: list = []  # the distinct per-state lexers, by first use
    state_cfg = []
    for old in by_new:
        basic = contextual.lexers[old]
        idx = configs.get(id(basic))
        if idx is None:
            idx = configs[id(basic)] = len(cfgs)
            names, unless, patterns = _scanner_info(basic)
            if basic.ignore_types != root.ignore_types:
                raise _Unsupported("ignore sets")
            # for each terminal of this lexer that the root lexer also has: the literals only
            # this lexer keeps apart (keywords the root one folds into NAME) that come first
            fast_names, fast_before, own, last = [], [], [], -1
            for name in names:
                if name in root_rank:
                    if root_rank[name] < last:
                        raise _Unsupported("terminal order")
                    last = root_rank[name]
                    fast_names.append(name)
                    fast_before.append(list(own))
                else:
                    pattern = terminals[name].pattern
                    if type(pattern) is not PatternStr or pattern.flags:
                        raise _Unsupported(f"terminal {name}")
                    own.append(pattern.value)
            if patterns != [_combined(names, terminals)]:
                raise _Unsupported("scanner pattern")
            cfgs.append([idx, fast_names, fast_before, sorted(t.name for t in basic.terminals),
                         unless, names])
        state_cfg.append(idx)
    # packed for a quick start: names by number, each state's row and lexer as one string that
    # is decoded only when the parser first visits it (a run visits few)
    names = sorted({n for k in symbol_sets for n in k} | {n for c in cfgs for n in c[5]})
    ix = {n: i for i, n in enumerate(names)}

    def numbers(seq) -> str:
        return " ".join(str(v) for v in seq)

    def packed_cfg(cfg) -> str:
        _, fast_names, fast_before, accept, unless, order = cfg
        return json.dumps([[ix[n] for n in fast_names], fast_before, [ix[n] for n in accept],
                           unless, [ix[n] for n in order]], separators=(",", ":"),
                          sort_keys=True)

    return _plain({
        "names": names,
        "symbols": [numbers(ix[n] for n in k) for k in symbol_sets],
        "table": [numbers([symset, *row]) for symset, row in rows],
        "rules": rules,
        "start": {k: order[v] for k, v in table.start_states.items()},
        "end": {k: order[v] for k, v in table.end_states.items()},
        "root": root_patterns,
        "root_unless": root_unless,
        "ignore": sorted(root.ignore_types),
        "newline": sorted(root.newline_types),
        "state_cfg": state_cfg,
        "cfgs": [packed_cfg(c) for c in cfgs],
        "patterns": {name: t.pattern.to_regexp() for name, t in terminals.items()},
    })


def _combined(names, terminals) -> str:
    """Lark's Scanner regex (one named group per terminal, in order), as parser.py builds it."""
    return P._combined(names, {name: t.pattern.to_regexp() for name, t in terminals.items()})


def _plain(x):
    """A copy made of str, int, bool, None, list and dict only (Lark's names can be Token, a
    str subclass); anything else is refused."""
    t = type(x)
    if isinstance(x, str):
        return str(x)
    if t in (int, bool) or x is None:
        return x
    if t is dict:
        return {_plain(k): _plain(v) for k, v in x.items()}
    if t in (list, tuple):
        return [_plain(v) for v in x]
    raise _Unsupported(f"{t.__name__} in the tables")


def export_lark(lark_: Lark) -> dict:
    """Lark's parser as its own plain data (Lark.memo_serialize, what Lark.save would pickle),
    states numbered canonically and the options Lark takes again at load time left out."""
    data, memo = lark_.memo_serialize([TerminalDef, Rule])
    data["options"] = {k: v for k, v in data["options"].items()
                       if k not in LOAD_OPTIONS and k != "cache"}
    table = lark_.parser.parser.parser.parse_table
    order = _canonical_states(table)
    parser_data = data["parser"]["parser"]
    tokens = parser_data["tokens"]
    names = sorted(tokens.values())
    index = {name: i for i, name in enumerate(names)}
    states = {}
    for old, actions in parser_data["states"].items():
        row = {}
        for tok, (action, arg) in actions.items():
            if action == 0:
                row[index[tokens[tok]]] = (0, order[arg])
            elif action == 1 and type(arg) is dict and set(arg) == {"@"}:
                row[index[tokens[tok]]] = (1, arg["@"])  # a rule, by its memo number
            else:
                raise _Unsupported(f"parse action {action}")
        states[order[old]] = [n for tok in sorted(row) for n in (tok, *row[tok])]
    data["parser"]["parser"] = {
        "tokens": dict(enumerate(names)),
        "states": _Rows(states[s] for s in range(len(states))),
        "start_states": {k: order[v] for k, v in parser_data["start_states"].items()},
        "end_states": {k: order[v] for k, v in parser_data["end_states"].items()},
    }
    return {"data": data, "memo": memo}


LOAD_OPTIONS = ("postlex", "transformer", "lexer_callbacks", "use_bytes", "debug",
                "g_regex_flags", "regex", "propagate_positions", "tree_class", "_plugins")

# JSON has neither tuples nor integer keys, both of which Lark's data holds: such values are
# written as one-key objects and turned back by _decode. The parse table, most of the data, is
# one flat list of numbers per state, (token, action, argument) after one another.
_TUPLE, _INT_KEYS, _ROWS = "(tuple)", "(int keys)", "(lalr rows)"


class _Rows(list):
    """Lark's {state: {token: (action, argument)}}, to be written as flat rows."""


def _encode(x):
    t = type(x)
    if t is _Rows:
        return {_ROWS: list(x)}
    if t is dict:
        if all(type(k) is str for k in x):
            if _TUPLE in x or _INT_KEYS in x or _ROWS in x:
                raise _Unsupported("a reserved key in Lark's data")
            return {k: _encode(v) for k, v in x.items()}
        if not all(type(k) is int for k in x):
            raise _Unsupported("a key in Lark's data")
        return {_INT_KEYS: [[k, _encode(v)] for k, v in sorted(x.items())]}
    if t is tuple:
        return {_TUPLE: [_encode(v) for v in x]}
    if t is list:
        return [_encode(v) for v in x]
    if isinstance(x, str):
        return str(x)
    if t in (int, bool, float) or x is None:
        return x
    raise _Unsupported(f"{t.__name__} in Lark's data")


def _decode(obj: dict):
    if len(obj) == 1:
        if _TUPLE in obj:
            return tuple(obj[_TUPLE])
        if _INT_KEYS in obj:
            return {int(k): v for k, v in obj[_INT_KEYS]}
        if _ROWS in obj:
            return {state: {row[i]: ((0, row[i + 2]) if row[i + 1] == 0 else (1, {"@": row[i + 2]}))
                            for i in range(0, len(row), 3)}
                    for state, row in enumerate(obj[_ROWS])}
    return obj


# ---- the generator: python -m gradcalc.lang.larkparser [--check] ----


def _dump(d: dict) -> str:
    """JSON, one top-level key per line and one row per line of its long lists (diffable)."""
    out = []
    for key, value in d.items():
        if type(value) is list and len(value) > 8:
            body = "[\n" + ",\n".join(json.dumps(v, ensure_ascii=False, sort_keys=True)
                                      for v in value) + "\n]"
        else:
            body = json.dumps(value, ensure_ascii=False, sort_keys=True)
        out.append(f"{json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(out) + "\n}\n"


def generate() -> dict[str, str]:
    """{file name: text} of the two table files, built with Lark from grammar/gradcalc.lark."""
    lark_ = build()
    head = {"format": P.FORMAT, "generator": "python -m gradcalc.lang.larkparser",
            "grammar": P.grammar_text()}
    lean = export_tables(lark_)
    if lean is None:
        raise SystemExit("the grammar uses a Lark feature the lean driver does not reproduce")
    return {
        P.TABLES: _dump(dict(head, **lean)),
        LARK_TABLES: _dump(dict(head, lark=lark.__version__, **_encode(export_lark(lark_)))),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the table files beside gradcalc/lang/parser.py (--check: say if they are stale)."""
    argv = sys.argv[1:] if argv is None else argv
    stale = []
    for name, text in generate().items():
        path = P.tables_path(name)
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read() == text
        except OSError:
            current = False
        if not current:
            stale.append(name)
            if "--check" not in argv:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    if "--check" in argv:
        for name in stale:
            print(f"{P.tables_path(name)} is out of date: run python -m gradcalc.lang.larkparser")
        return 1 if stale else 0
    for name in stale:
        print(f"wrote {P.tables_path(name)}")
    return 0


# ---- error translation ----

_WORDS = {
    "NAME": "a name",
    "DEC_NUMBER": "a number",
    "HEX_NUMBER": "a number",
    "OCT_NUMBER": "a number",
    "BIN_NUMBER": "a number",
    "FLOAT_NUMBER": "a number",
    "IMAG_NUMBER": "a number",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "_NEWLINE": "end of line",
    "$END": "end of input",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "AUGOP": "an augmented assignment",
}


_NAMES: list = [None]


def _describe(term: str) -> str:
    if term in _WORDS:
        return _WORDS[term]
    if _NAMES[0] is None:
        _NAMES[0] = {t.name: t for t in get().terminals}
    t = _NAMES[0].get(term)
    if t is not None and isinstance(t.pattern, PatternStr):
        return f"'{t.pattern.value}'"
    return term.lower()


def _describe_token(tok) -> str:
    if tok.type in ("_NEWLINE", "$END", "_INDENT", "_DEDENT"):
        return {"_NEWLINE": "end of line", "$END": "end of input",
                "_INDENT": "indent", "_DEDENT": "dedent"}[tok.type]
    if tok.type == "NAME":
        return f"name '{tok.value}'"
    if tok.type in ("DEC_NUMBER", "FLOAT_NUMBER", "HEX_NUMBER", "OCT_NUMBER", "BIN_NUMBER",
                    "IMAG_NUMBER"):
        return f"number {tok.value}"
    if tok.type in ("STRING", "LONG_STRING"):
        return "string"
    return f"'{tok.value}'"


def _never_closed(lines, bracket) -> bool:
    """True when nothing after `bracket` (a token) closes it: brackets counted to the end of
    the text, strings and comments skipped."""
    text = "\n".join(lines[bracket.line - 1:])[bracket.column:]
    depth, quote, i = 1, None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif text.startswith(quote, i):
                i += len(quote) - 1
                quote = None
        elif ch in "'\"":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote) - 1
        elif ch == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return False
        elif ch == "\n" and quote is not None and len(quote) == 1:
            quote = None
        i += 1
    return True


def _token_message(e: UnexpectedToken, indenter: Indenter, lines):
    tok = e.token
    expected = set(e.expected)
    st = e.state
    if hasattr(st, "parse_conf"):  # raised by the contextual lexer: ask the parser instead
        expected = {k for k in st.parse_conf.parse_table.states[st.position] if k.isupper()}
    prev = indenter.prev if indenter.last is tok else indenter.last
    after = f" after '{prev.value}'" if prev is not None and prev.type not in (
        "_NEWLINE", "_INDENT", "_DEDENT") else ""
    if tok.type == "$END":
        if indenter.brackets:
            b = indenter.brackets[-1]
            return f"unclosed '{b.value}' opened at {b.line}:{b.column}", True, (b.line, b.column)
        if "_INDENT" in expected:
            return "expected an indented block", True, None
        if "NAME" in expected:
            return f"expected an expression{after}", True, None
        return "unexpected end of input", True, None
    if indenter.brackets and tok.line is not None and indenter.brackets[-1].line < tok.line \
            and tok.type not in P._CLOSE and _never_closed(lines, indenter.brackets[-1]):
        b = indenter.brackets[-1]  # as Python: the bracket, not the line after it
        return f"'{b.value}' was never closed", False, (b.line, b.column)
    if tok.type in P._CLOSE:
        if not indenter.brackets:
            return f"unmatched '{tok.value}'", False, None
        b = indenter.brackets[-1]
        if b.value != P._CLOSE[tok.type]:
            return (f"closing '{tok.value}' does not match opening '{b.value}' "
                    f"at {b.line}:{b.column}"), False, None
    if tok.type == "NAME" and tok.value in P._UNSUPPORTED:
        return P._UNSUPPORTED[tok.value], False, None
    if tok.type == "_INDENT":
        return "unexpected indent", False, None
    if "_INDENT" in expected:
        where = f" after line {prev.line}" if prev is not None else ""
        return f"expected an indented block{where}", False, None
    if "NAME" in expected and ("DEC_NUMBER" in expected or "LPAR" in expected):
        return f"expected an expression{after}", False, None
    if tok.type == "_NEWLINE" and "COLON" in expected:
        return "expected ':'", False, None
    if tok.type == "NAME" and tok.value in P._KEYWORDS:
        return f"invalid syntax: unexpected keyword '{tok.value}'", False, None
    words = sorted({_describe(t) for t in expected if not t.startswith("__")})
    msg = f"invalid syntax: unexpected {_describe_token(tok)}{after}"
    if 0 < len(words) <= 3:
        msg += "; expected " + " or ".join(words)
    elif tok.type in ("NAME", "DEC_NUMBER", "FLOAT_NUMBER", "STRING", "LPAR", "LSQB"):
        msg += " (perhaps a missing operator or comma?)"
    return msg, False, None


def _translate(e, text, source, indenter):
    lines = text.splitlines()
    incomplete = False
    if isinstance(e, P._SyntaxAt):
        msg, line, col, incomplete = e.message, e.line, e.column, e.incomplete
    elif isinstance(e, UnexpectedToken):
        msg, incomplete, where = _token_message(e, indenter, lines)
        tok = e.token
        if where is not None and not incomplete:
            line, col = where
        elif tok.type == "$END" or tok.line is None or tok.line < 1:
            line = len(lines) or 1
            col = len(lines[-1]) + 1 if lines else 1
            prev = indenter.last
            if prev is not None and prev.type not in ("_NEWLINE", "_INDENT", "_DEDENT"):
                line, col = prev.end_line, prev.end_column
        elif tok.type in ("_NEWLINE", "_DEDENT", "_INDENT"):
            line, col = tok.line, tok.column
            if tok.type == "_INDENT":
                line, col = tok.end_line, tok.end_column
        else:
            line, col = tok.line, tok.column
    elif isinstance(e, UnexpectedCharacters):
        line, col = e.line, e.column
        rest = text[e.pos_in_stream:e.pos_in_stream + 3]
        ch = e.char
        if rest in ('"""', "'''"):
            msg, incomplete = "unterminated triple-quoted string literal", True
        elif ch in "'\"":
            msg = "unterminated string literal"
        elif ch == "\\":
            msg = "unexpected character after line continuation character"
        elif ch == "\t" or ch.isspace():
            msg = "invalid whitespace character"
        else:
            msg = f"invalid character '{ch}' (U+{ord(ch):04X})"
    else:
        line, col = getattr(e, "line", 1), getattr(e, "column", 1)
        msg = "invalid syntax"
    if line is None or line < 1:
        line = 1
    if col is None or col < 1:
        col = 1
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    cls = IncompleteInput if incomplete else ParseError
    return cls(msg, source=source, line=line, column=col, source_line=source_line)


if __name__ == "__main__":
    sys.exit(main())
