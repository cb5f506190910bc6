"""Language layer: text -> syntax tree, with the LALR tables Lark builds from the grammar.

The grammar lives in grammar/gradcalc.lark and Lark stays the parser generator: what parsing
needs -- terminal regexes, the contextual lexer's per-state terminal sets, the parse table and
each rule's tree-shaping -- is exported once, as JSON shipped in the package
(parse_tables.json, made by `python -m gradcalc.lang.larkparser`; no cache, no pickle). Runs
parse with the small driver below over that data, without importing Lark: a lexer, the
Indenter's rules and the LALR loop, calling the same inline transformer (`_Builder`) Lark
would. Text the driver rejects is parsed again by Lark's own loop (`gradcalc.lang.larkparser`),
so syntax errors are translated into words with positions (`ParseError`) exactly as Lark
finds them, and text that stops inside an open bracket or block raises `IncompleteInput`.
"""

from __future__ import annotations

import gc
import keyword
import os
import sys

from gradcalc.errors import GradcalcError, IncompleteInput, ParseError
from gradcalc.lang.ast import Node, Program

_OPEN = {"LPAR": "(", "LSQB": "[", "LBRACE": "{"}
_CLOSE = {"RPAR": "(", "RSQB": "[", "RBRACE": "{"}
_CLOSE_TEXT = {"RPAR": ")", "RSQB": "]", "RBRACE": "}"}

_UNSUPPORTED = {
    "try": "'try' statements are not supported",
    "except": "'except' is not supported (there is no 'try')",
    "finally": "'finally' is not supported (there is no 'try')",
    "yield": "generators ('yield') are not supported",
    "async": "'async' is not supported",
    "await": "'await' is not supported",
}
_KEYWORDS = frozenset(keyword.kwlist)


class _SyntaxAt(Exception):
    """Internal: a syntax problem found by the post-lexer or the transformer."""

    def __init__(self, message, line, column, incomplete=False):
        super().__init__(message)
        self.message, self.line, self.column, self.incomplete = message, line, column, incomplete


def _pos(x):
    if isinstance(x, Node) or hasattr(x, "end_column"):  # a node, or a token (lean or Lark's)
        return x.line, x.column
    if isinstance(x, (list, tuple)):
        for y in x:
            if y is not None:
                p = _pos(y)
                if p is not None:
                    return p
    return None


def _node(kind, where, *args):
    line, column = _pos(where) or (1, 1)
    return Node(kind, line, column, *args)


# ---- strings ----


def _literal_eval(text):
    from ast import literal_eval  # imported on the first string literal only

    return literal_eval(text)


def _string_value(tok):
    """(kind, value): ('str', text) or ('fstr', parts) for one string token."""
    text = tok.value
    i = 0
    while text[i] not in "'\"":
        i += 1
    prefix = text[:i].lower()
    if "b" in prefix:
        raise _SyntaxAt("bytes literals are not supported", tok.line, tok.column)
    if "f" not in prefix:
        try:
            return "str", _literal_eval(text)
        except (SyntaxError, ValueError) as e:
            raise _SyntaxAt(f"invalid string literal: {e.msg if hasattr(e, 'msg') else e}",
                            tok.line, tok.column) from None
    q = 3 if text[i:i + 3] in ('"""', "'''") else 1
    quote = text[i:i + q]
    body_start = i + q
    body = text[body_start:len(text) - q]
    raw = "r" in prefix
    return "fstr", _fstring_parts(body, quote, raw, tok, body_start)


def _literal_chunk(chunk, quote, raw, tok):
    if not chunk:
        return ""
    try:
        return _literal_eval(("r" if raw else "") + quote + chunk + quote)
    except (SyntaxError, ValueError):
        raise _SyntaxAt("invalid f-string literal text", tok.line, tok.column) from None


def _offset_pos(tok, offset):
    """Line and column of character `offset` inside token `tok`."""
    before = tok.value[:offset]
    nl = before.count("\n")
    if nl:
        return tok.line + nl, len(before) - before.rfind("\n")
    return tok.line, tok.column + offset


def _fstring_parts(body, quote, raw, tok, base):
    """Split an f-string body into literal strings and ('field', expr, conv, spec_parts)."""
    parts = []
    buf = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c == "{":
            if body.startswith("{{", i):
                buf.append("{")
                i += 2
                continue
            if buf:
                parts.append(_literal_chunk("".join(buf), quote, raw, tok))
                buf = []
            field, i = _fstring_field(body, i + 1, quote, raw, tok, base)
            parts.append(field)
        elif c == "}":
            if body.startswith("}}", i):
                buf.append("}")
                i += 2
                continue
            line, col = _offset_pos(tok, base + i)
            raise _SyntaxAt("f-string: single '}' is not allowed", line, col)
        else:
            buf.append(c)
            i += 1
    if buf:
        parts.append(_literal_chunk("".join(buf), quote, raw, tok))
    return parts


def _fstring_field(body, start, quote, raw, tok, base):
    depth = 0
    i, n = start, len(body)
    in_str = None
    expr_end = conv = None
    while i < n:
        c = body[i]
        if in_str:
            if c == in_str:
                in_str = None
        elif c in "'\"":
            in_str = c
        elif c in "([{":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "}" and depth > 0:
            depth -= 1
        elif depth == 0 and c == "!" and not body.startswith("!=", i):
            expr_end = i
            conv = body[i + 1:i + 2]
            i += 2
            break
        elif depth == 0 and c in ":}":
            expr_end = i
            break
        i += 1
    if expr_end is None or i >= n:
        line, col = _offset_pos(tok, base + start - 1)
        raise _SyntaxAt("f-string: expecting '}'", line, col)
    expr_text = body[start:expr_end]
    if conv is not None and conv not in ("r", "s", "a"):
        line, col = _offset_pos(tok, base + expr_end)
        raise _SyntaxAt("f-string: invalid conversion character: expected 's', 'r', or 'a'",
                        line, col)
    debug = None
    stripped = expr_text.rstrip()
    if stripped.endswith("=") and not stripped.endswith(("==", "!=", "<=", ">=")):
        debug = expr_text
        expr_text = stripped[:-1]
        if conv is None and body[i] != ":":
            conv = "r"  # Python: `{x=}` shows repr(x) unless a format spec is given
    if not expr_text.strip():
        line, col = _offset_pos(tok, base + start)
        raise _SyntaxAt("f-string: empty expression not allowed", line, col)
    line, col = _offset_pos(tok, base + start)
    expr = _parse_embedded(expr_text, line, col)
    spec = []
    if body[i] == ":":
        # the format spec runs to the matching '}', and may hold nested fields
        j = i + 1
        spec_start = j
        nest = 0
        while j < n:
            if body[j] == "{":
                nest += 1
            elif body[j] == "}":
                if nest == 0:
                    break
                nest -= 1
            j += 1
        if j >= n:
            line, col = _offset_pos(tok, base + start - 1)
            raise _SyntaxAt("f-string: expecting '}'", line, col)
        spec = _fstring_parts(body[spec_start:j], quote, raw, tok, base + spec_start)
        i = j
    if body[i] != "}":
        line, col = _offset_pos(tok, base + i)
        raise _SyntaxAt("f-string: expecting '}'", line, col)
    return ("field", expr, conv, spec, debug), i + 1


def _parse_embedded(text, line, col):
    """Parse an f-string field, keeping positions relative to the whole source."""
    lean = None if _IN_LARK[0] else _lean()
    if lean is not None:
        try:  # the field at line `line`, column `col`: "(" alone on the line before
            return lean.parse("(\n" + " " * (col - 1) + text + "\n)\n", "eval_input", line - 1)
        except RecursionError:
            raise
        except Exception as e:  # the whole text is parsed again by Lark, which says why
            raise _SyntaxAt("f-string: invalid expression", line, col) from e
    from lark.exceptions import UnexpectedInput

    from gradcalc.lang import larkparser

    if line > 1:
        padded = "(" + "\n" * (line - 1) + " " * (col - 1) + text + "\n)\n"
    else:  # an f-string field starts at column 3 or later
        padded = "(" + " " * max(col - 2, 0) + text + "\n)\n"
    try:
        return larkparser.raw_parse(padded, "eval_input")
    except (UnexpectedInput, _SyntaxAt) as e:
        raise _SyntaxAt("f-string: invalid expression", line, col) from e

# ---- tree building ----


def _flatten(items):
    out = []
    for s in items:
        if isinstance(s, list):
            out.extend(s)
        elif s is not None:
            out.append(s)
    return out


def _binop_chain(kind, children):
    node = children[0]
    for i in range(1, len(children), 2):
        op = children[i]
        node = Node(kind, op.line, op.column, op.value, node, children[i + 1])
    return node


class _Builder:
    """The inline transformer: one callback per rule/alias of grammar/gradcalc.lark.

    Each method gets the rule's kept children as arguments (Lark's `v_args(inline=True)`);
    `larkparser` hands the same methods to Lark as a Transformer.
    """

    # statements
    def file_input(self, *stmts):
        return _flatten(stmts)

    def eval_input(self, expr):
        return expr

    def simple_stmt(self, *stmts):
        return [s for s in stmts if s is not None]

    def suite(self, *stmts):
        return _flatten(stmts)

    def expr_stmt(self, e):
        return Node("expr", e.line, e.column, e)

    def assign(self, *parts):
        for t in parts[:-1]:
            _check_target(t, "assign to")
        return _node("assign", parts[0], parts[:-1], parts[-1])

    def annassign(self, target, annotation, value):
        # `x: T = v` assigns v (the annotation is not evaluated); `x: T` alone does nothing
        if target.kind not in ("name", "attr", "index"):
            raise _SyntaxAt("only single target (not tuple) can be annotated"
                            if target.kind in ("tuple", "tuple_bare") else
                            "illegal target for annotation", target.line, target.column)
        if value is None:
            return Node("pass", target.line, target.column)
        return _node("assign", target, (target,), value)

    def augassign(self, target, op, value):
        if target.kind not in ("name", "attr", "index"):
            raise _SyntaxAt("illegal expression for augmented assignment",
                            target.line, target.column)
        return Node("augassign", op.line, op.column, target, op.value[:-1], value)

    def del_stmt(self, tok, targets):
        targets = list(targets.args[0]) if targets.kind == "tuple" else [targets]
        for t in targets:
            _check_target(t, "delete")
        return _node("del", tok, targets)

    def pass_stmt(self, tok):
        return _node("pass", tok)

    def break_stmt(self, tok):
        return _node("break", tok)

    def continue_stmt(self, tok):
        return _node("continue", tok)

    def return_stmt(self, tok, value):
        return _node("return", tok, value)

    def raise_stmt(self, tok, value):
        return _node("raise", tok, value)

    def global_stmt(self, tok, *names):
        return _node("global", tok, [str(n) for n in names])

    def nonlocal_stmt(self, tok, *names):
        return _node("nonlocal", tok, [str(n) for n in names])

    def assert_stmt(self, tok, test, msg):
        return _node("assert", tok, test, msg)

    def import_name(self, tok, *names):
        return _node("import", tok, list(names))

    def dotted_as_name(self, dotted, asname):
        return (dotted, str(asname) if asname is not None else None)

    def import_from(self, tok, dotted, names):
        if not isinstance(names, list):  # the STAR token
            names = "*"
        return _node("importfrom", tok, dotted, names)

    def import_as_names(self, *names):
        return [n for n in names if n is not None]

    def import_as_name(self, name, asname):
        return (str(name), str(asname) if asname is not None else None)

    def dotted_name(self, *names):
        return ".".join(str(n) for n in names)

    def if_stmt(self, tok, test, body, *rest):
        orelse = rest[-1]
        elifs = list(rest[:-1])
        # build the elif chain from the end
        for etest, ebody, epos in reversed(elifs):
            orelse = [Node("if", epos[0], epos[1], etest, ebody, orelse or [])]
        return _node("if", tok, test, body, orelse or [])

    def elif_clause(self, test, body):
        return (test, body, (test.line, test.column))

    def while_stmt(self, tok, test, body, orelse):
        return _node("while", tok, test, body, orelse or [])

    def for_stmt(self, tok, target, iterable, body, orelse):
        _check_target(target, "assign to")
        return _node("for", tok, target, iterable, body, orelse or [])

    def with_stmt(self, tok, *rest):
        return _node("with", tok, list(rest[:-1]), rest[-1])

    def with_item(self, expr, target):
        if target is not None:
            _check_target(target, "assign to")
        return (expr, target)

    def funcdef(self, tok, name, params, returns, body):
        return _node("def", tok, str(name), params or [], body, [])

    def parameters(self, *params):
        return [p for p in params if p is not None]

    def param_plain(self, name, annotation, default):
        return ("plain", str(name), default)

    def param_star(self, tok, name, annotation):
        return ("star", str(name) if name is not None else None, None)

    def param_starstar(self, tok, name, annotation):
        return ("starstar", str(name), None)

    def lambda_params(self, *params):
        return [p for p in params if p is not None]

    def lambda_plain(self, name, default):
        return ("plain", str(name), default)

    def lambda_star(self, tok, name):
        return ("star", str(name) if name is not None else None, None)

    def lambda_starstar(self, tok, name):
        return ("starstar", str(name), None)

    def classdef(self, tok, name, args, body):
        return _node("class", tok, str(name), args or [], body, [])

    def decorated(self, *items):
        decorators = [d for d in items[:-1]]
        target = items[-1]
        return Node(target.kind, decorators[0][0].line, decorators[0][0].column,
                    *target.args[:-1], [d[1] for d in decorators])

    def decorator(self, tok, expr):
        return (tok, expr)

    # expressions
    def ifexp(self, body, test, orelse):
        return Node("ifexp", body.line, body.column, test, body, orelse)

    def lambdef(self, tok, params, body):
        return _node("lambda", tok, params or [], body)

    def or_test(self, *operands):
        return Node("boolop", operands[0].line, operands[0].column, "or", list(operands))

    def and_test(self, *operands):
        return Node("boolop", operands[0].line, operands[0].column, "and", list(operands))

    def not_op(self, operand):
        return Node("unary", operand.line, max(1, operand.column - 4), "not", operand)

    def comparison(self, *children):
        ops = [children[i] for i in range(1, len(children), 2)]
        operands = [children[i] for i in range(0, len(children), 2)]
        first = children[0]
        return Node("compare", first.line, first.column, [o[0] for o in ops], operands,
                    [o[1] for o in ops])

    def comp_op(self, *toks):
        return (" ".join(t.value for t in toks), (toks[0].line, toks[0].column))

    def or_expr(self, *operands):
        return _simple_chain("|", operands)

    def xor_expr(self, *operands):
        return _simple_chain("^", operands)

    def and_expr(self, *operands):
        return _simple_chain("&", operands)

    def shift_expr(self, *children):
        return _binop_chain("binop", children)

    def arith_expr(self, *children):
        return _binop_chain("binop", children)

    def term(self, *children):
        return _binop_chain("binop", children)

    def factor(self, op, operand):
        return Node("unary", op.line, op.column, op.value, operand)

    def power(self, base, exponent):
        return Node("binop", base.line, base.column, "**", base, exponent)

    def call(self, func, args):
        return Node("call", func.line, func.column, func, args or [])

    def arguments(self, *args):
        return [a for a in args if a is not None]

    def genexp_arg(self, elt, *fors):
        return [Node("genexp", elt.line, elt.column, elt, list(fors))]

    def kwarg(self, name, value):
        if name.value in _KEYWORDS:
            raise _SyntaxAt(f"'{name.value}' is a keyword", name.line, name.column)
        return ("kw", str(name), value)

    def kwstarred(self, tok, value):
        return ("kwstar", value)

    def getitem(self, obj, sub):
        return Node("index", obj.line, obj.column, obj, sub)

    def getattr(self, obj, name):
        if name.value in _KEYWORDS:
            raise _SyntaxAt(f"invalid syntax: '{name.value}' is a keyword", name.line,
                            name.column)
        return Node("attr", obj.line, obj.column, obj, str(name), (name.line, name.column))

    def empty_tuple(self, lpar):
        return _node("tuple", lpar, [])

    def tuple(self, lpar, *elts):
        return _node("tuple", lpar, [e for e in elts if e is not None])

    def genexp(self, lpar, elt, *fors):
        return _node("genexp", lpar, elt, list(fors))

    def list(self, lsqb, *elts):
        return _node("list", lsqb, [e for e in elts if e is not None])

    def listcomp(self, lsqb, elt, *fors):
        return _node("listcomp", lsqb, elt, list(fors))

    def dict(self, lbrace, *items):
        return _node("dict", lbrace, [i for i in items if i is not None])

    def dictcomp(self, lbrace, key, value, *fors):
        return _node("dictcomp", lbrace, key, value, list(fors))

    def set(self, lbrace, *elts):
        return _node("set", lbrace, [e for e in elts if e is not None])

    def setcomp(self, lbrace, elt, *fors):
        return _node("setcomp", lbrace, elt, list(fors))

    def kv(self, key, value):
        return (key, value)

    def kv_star(self, tok, value):
        return (None, value)

    def starred(self, tok, value):
        return _node("starred", tok, value)

    def name(self, tok):
        v = tok.value
        if v in _KEYWORDS:
            raise _SyntaxAt(_UNSUPPORTED.get(v, f"invalid syntax: unexpected keyword '{v}'"),
                            tok.line, tok.column)
        return Node("name", tok.line, tok.column, v)

    def int_lit(self, tok):
        return Node("const", tok.line, tok.column, int(tok.value.replace("_", ""), 0)
                    if tok.value[:2].lower() in ("0x", "0o", "0b")
                    else int(tok.value.replace("_", "")))

    def float_lit(self, tok):
        return Node("const", tok.line, tok.column, float(tok.value.replace("_", "")))

    def imag_lit(self, tok):
        return Node("const", tok.line, tok.column, complex(tok.value.replace("_", "")))

    def strings(self, *toks):
        parts = []
        fstring = False
        for tok in toks:
            kind, value = _string_value(tok)
            if kind == "str":
                parts.append(value)
            else:
                fstring = True
                parts.extend(value)
        first = toks[0]
        if not fstring:
            return Node("const", first.line, first.column, "".join(parts))
        return Node("fstring", first.line, first.column, parts)

    def ellipsis(self, tok):
        return Node("const", tok.line, tok.column, Ellipsis)

    def none_lit(self, tok):
        return Node("const", tok.line, tok.column, None)

    def true_lit(self, tok):
        return Node("const", tok.line, tok.column, True)

    def false_lit(self, tok):
        return Node("const", tok.line, tok.column, False)

    def subscript_tuple(self, *subs):
        subs = [s for s in subs if s is not None]
        return Node("tuple", subs[0].line, subs[0].column, subs)

    def slice(self, lower, upper, step):
        where = lower or upper or step
        line, col = (where.line, where.column) if where is not None else (0, 0)
        return Node("slice", line, col, lower, upper, step)

    def test_or_none(self, test=None):
        return test

    def tuple_target(self, *elts):
        elts = [e for e in elts if e is not None]
        return Node("tuple", elts[0].line, elts[0].column, elts)

    def tuple_bare(self, *elts):
        elts = [e for e in elts if e is not None]
        return Node("tuple", elts[0].line, elts[0].column, elts)

    def comp_for(self, target, iterable, *ifs):
        _check_target(target, "assign to")
        return (target, iterable, list(ifs))

    def comp_if(self, test):
        return test


def _simple_chain(op, operands):
    node = operands[0]
    for right in operands[1:]:
        node = Node("binop", node.line, node.column, op, node, right)
    return node


_TARGETS = ("name", "attr", "index")


def _check_target(t, verb):
    if t.kind in _TARGETS:
        return
    if t.kind in ("tuple", "list"):
        stars = 0
        for e in t.args[0]:
            if e.kind == "starred":
                stars += 1
                _check_target(e.args[0], verb)
            else:
                _check_target(e, verb)
        if stars > 1:
            raise _SyntaxAt("multiple starred expressions in assignment", t.line, t.column)
        return
    what = {"call": "function call", "const": "literal", "binop": "expression",
            "compare": "comparison", "unary": "expression", "boolop": "expression",
            "lambda": "lambda", "fstring": "f-string expression"}.get(t.kind, "expression")
    raise _SyntaxAt(f"cannot {verb} {what}", t.line, t.column)




# ---- the grammar and the shipped tables ----

FORMAT = 6  # bump when the exported data or its meaning changes
TABLES = "parse_tables.json"  # the lean driver's tables, beside this module
_IN_LARK = [0]  # > 0 while Lark's own loop runs (its f-string fields then use Lark too)


def grammar_path() -> str:
    """Where grammar/gradcalc.lark is: in the source tree, or inside the installed wheel."""
    here = os.path.dirname(os.path.realpath(__file__))
    for candidate in (os.path.join(here, os.pardir, os.pardir, "grammar", "gradcalc.lark"),
                      os.path.join(here, os.pardir, "grammar", "gradcalc.lark")):
        if os.path.isfile(candidate):
            return os.path.normpath(candidate)
    raise GradcalcError("gradcalc's grammar file is missing from the installation")


def grammar_text() -> str:
    """The grammar's text."""
    with open(grammar_path(), encoding="utf-8") as f:
        return f.read()


def tables_path(name: str) -> str:
    """A table file shipped beside this module (generated from the grammar, see larkparser)."""
    return os.path.join(os.path.dirname(os.path.realpath(__file__)), name)


def _load_tables(grammar: str) -> dict | None:
    """The shipped lean tables when they are this grammar's and this format's, else None
    (a grammar edited without `python -m gradcalc.lang.larkparser`)."""
    import json

    try:
        with open(tables_path(TABLES), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if type(data) is dict and data.get("format") == FORMAT and data.get("grammar") == grammar:
        return data
    return None


def _export() -> dict | None:
    """Build Lark's parser and export its tables in memory (when the shipped ones are stale)."""
    from gradcalc.lang import larkparser

    return larkparser.export_tables(larkparser.get())


# ---- the lean driver: lexer, Indenter and LALR loop over the exported tables ----


class Token:
    """A token: lark.Token's fields, which the callbacks read (`str(tok)` is its text)."""

    __slots__ = ("column", "end_column", "end_line", "end_pos", "line", "start_pos", "type",
                 "value")

    def __str__(self):
        return self.value

    def __repr__(self):
        return f"Token({self.type!r}, {self.value!r})"


def _borrow(type_, value, t):
    """lark.Token.new_borrow_pos."""
    tok = Token()
    tok.type, tok.value = type_, value
    tok.start_pos, tok.line, tok.column = t.start_pos, t.line, t.column
    tok.end_line, tok.end_column, tok.end_pos = t.end_line, t.end_column, t.end_pos
    return tok


class _Tree:
    """lark.Tree for rules without a callback (only `_rule`s, which are inlined)."""

    __slots__ = ("children", "data")

    def __init__(self, data, children):
        self.data, self.children = data, children

    def __repr__(self):
        return f"Tree({self.data!r}, {self.children!r})"


class _Reject(Exception):
    """The lean driver cannot parse this text: Lark's loop will say why."""


_PROBE = object()


def _rule(builder, origin, size, name, expand1, include, append_none):
    """(size, origin, callback) for one rule: Lark's ChildFilterLALR -> ExpandSingleChild ->
    inline callback (or a Tree) chain; callback None for a single child passed through."""
    keeps_one = size == 1 and not append_none and include in (None, ((0, False, 0),))
    if keeps_one and expand1:
        return size, origin, None
    user = None if name.startswith("_") else getattr(builder, name, None)
    if keeps_one and user is not None:
        # `?a: b ("|" b)* -> a` has an alias, so Lark calls a(b) even for a lone b; a callback
        # that hands a lone child back is a pass-through too (probed, as with any object)
        try:
            if user(_PROBE) is _PROBE:
                return size, origin, None
        except Exception:
            pass
    if user is not None:
        if expand1:
            def finish(children):
                return children[0] if len(children) == 1 else user(*children)
        else:
            def finish(children):
                return user(*children)
    elif expand1:
        def finish(children):
            return children[0] if len(children) == 1 else _Tree(name, children)
    else:
        def finish(children):
            return _Tree(name, children)
    if include is None:
        return size, origin, finish

    def child_filter(children):
        filtered = []
        for i, to_expand, add_none in include:
            if add_none:
                filtered += [None] * add_none
            if to_expand:
                if filtered:
                    filtered += children[i].children
                else:  # as Lark: reuse the inlined rule's list
                    filtered = children[i].children
            else:
                filtered.append(children[i])
        if append_none:
            filtered += [None] * append_none
        return finish(filtered)

    return size, origin, child_filter


class _Lazy(dict):
    """i -> make(packed[i]), made when first asked for (a run visits few states and rules)."""

    __slots__ = ("make", "packed")

    def __init__(self, packed, make):
        super().__init__()
        self.packed, self.make = packed, make

    def __missing__(self, i):
        value = self[i] = self.make(self.packed[i])
        return value


def _combined(names, patterns) -> str:
    """Lark's Scanner regex for terminals `names`: one named group each, first match wins."""
    return "|".join(f"(?P<{name}>{patterns[name]})" for name in names)


def _lexer_config(index, cfg):
    """(terminal -> keywords to rule out first, terminals the state accepts, config index)."""
    fast_names, fast_before, accept, _, _ = cfg
    return dict(zip(fast_names, map(tuple, fast_before))), frozenset(accept), index


def _rule_of(builder, spec):
    origin, size, name, expand1, include, append_none = spec
    if include is not None:
        include = tuple(map(tuple, include))
    return _rule(builder, origin, size, name, expand1, include, append_none)


class _Lean:
    """The exported tables, ready to run."""

    def __init__(self, d: dict):
        import json
        import re

        self._re = re
        names = [sys.intern(n) for n in d["names"]]

        def symbol_set(text):  # "name numbers"
            return tuple(names[int(i)] for i in text.split())

        def row(text):  # "symbol set, then one action per symbol"
            numbers = [int(i) for i in text.split()]
            return dict(zip(symbols[numbers[0]], numbers[1:]))

        def config(text):  # JSON: [fast names, keywords before each, accepted, unless, order]
            fast, before, accept, unless, order = json.loads(text)
            return ([names[i] for i in fast], before, [names[i] for i in accept], unless,
                    [names[i] for i in order])

        symbols = _Lazy(d["symbols"], symbol_set)
        self.table = _Lazy(d["table"], row)
        self.start_states, self.end_states = d["start"], d["end"]
        builder = _Builder()
        self.rules = _Lazy(d["rules"], lambda spec: _rule_of(builder, spec))
        roots = [re.compile(p) for p in d["root"]]
        if len(roots) == 1:
            self.root_match = roots[0].match
        else:
            def root_match(text, pos):
                for r in roots:
                    m = r.match(text, pos)
                    if m is not None:
                        return m
                return None
            self.root_match = root_match
        self.root_unless = d["root_unless"]
        self.ignore, self.newline = frozenset(d["ignore"]), frozenset(d["newline"])
        self.cfgs, self.patterns = _Lazy(d["cfgs"], config), d["patterns"]
        self.cfg_res: dict = {}
        self.chains: dict = {}
        configs = _Lazy(range(len(d["cfgs"])), lambda i: _lexer_config(i, self.cfgs[i]))
        self.lexers = _Lazy(d["state_cfg"], configs.__getitem__)

    def _state_match(self, c, text, pos):
        """Lark's contextual lexer for config c: its own scanner, its own keyword folding."""
        res = self.cfg_res.get(c)
        if res is None:
            res = self.cfg_res[c] = [
                self._re.compile(_combined(self.cfgs[c][4], self.patterns))]
        for r in res:
            m = r.match(text, pos)
            if m is not None:
                kind, value = m.lastgroup, m.group(0)
                unless = self.cfgs[c][3].get(kind)
                return kind, value, (kind if unless is None else unless.get(value, kind))
        raise _Reject("no terminal matches")

    def tokens(self, text: str, stack: list, first_line: int = 1):
        """Lark's contextual lexer + the Indenter, reading the parser's state from `stack`;
        the text's first line is numbered `first_line`.

        One regex over all terminals matches first; its result stands when the state's own
        scanner would give the same (the terminal is in the state's set, and none of the
        keywords only that state's scanner keeps separate comes first and matches).
        """
        root_match, root_unless = self.root_match, self.root_unless
        lexers, ignore, newline = self.lexers, self.ignore, self.newline
        startswith = text.startswith
        n = len(text)
        pos, line, line_start = 0, first_line, 0
        brackets: list = []
        indents = [0]
        tok = None
        while pos < n:
            fast, accept, c = lexers[stack[-1]]
            kind = None
            m = root_match(text, pos)
            if m is not None:
                kind = m.lastgroup
                before = fast.get(kind)
                if before is not None and not startswith(before, pos):
                    value = m.group()
                    unless = root_unless.get(kind)
                    type_ = kind if unless is None else unless.get(value, kind)
                    if type_ not in accept:
                        kind = None
                else:
                    kind = None
            if kind is None:
                kind, value, type_ = self._state_match(c, text, pos)
            start, column, start_line = pos, pos - line_start + 1, line
            pos += len(value)
            if kind in newline:
                nl = value.count("\n")
                if nl:
                    line += nl
                    line_start = start + value.rindex("\n") + 1
            if kind in ignore:
                continue
            tok = Token()
            tok.type, tok.value, tok.start_pos, tok.line, tok.column = (
                type_, value, start, start_line, column)
            tok.end_line, tok.end_column, tok.end_pos = line, pos - line_start + 1, pos
            # the Indenter
            if type_ == "_NEWLINE":
                if brackets:
                    continue
                yield tok
                indent_str = value.rsplit("\n", 1)[1]
                indent = len(indent_str)
                if "\t" in indent_str:
                    indent += indent_str.count("\t") * 7
                if indent > indents[-1]:
                    indents.append(indent)
                    tok = _borrow("_INDENT", indent_str, tok)
                    yield tok
                elif indent < indents[-1]:
                    while indent < indents[-1]:
                        indents.pop()
                        tok = _borrow("_DEDENT", indent_str, tok)
                        yield tok
                    if indent != indents[-1]:
                        raise _Reject("unindent")
                continue
            if type_ in _OPEN:
                brackets.append(value)
            elif type_ in _CLOSE and (not brackets or brackets.pop() != _CLOSE[type_]):
                raise _Reject("bracket")
            yield tok
        while len(indents) > 1:
            indents.pop()
            if tok is not None:
                tok = _borrow("_DEDENT", "", tok)
            else:
                tok = Token()
                tok.type, tok.value, tok.start_pos, tok.line, tok.column = (
                    "_DEDENT", "", 0, first_line, 1)
                tok.end_line, tok.end_column, tok.end_pos = first_line, 1, 0
            yield tok

    def _chain(self, below, top, type_):
        """The state after the run of pass-through reductions that `type_` starts on top of
        `below` (expressions climb ~15 precedence layers this way: done once, remembered)."""
        table, rules = self.table, self.rules
        while True:
            action = table[top][type_]
            if action >= 0:
                return top
            _, origin, cb = rules[~action]
            if cb is not None:
                return top
            top = table[below][origin]

    def parse(self, text: str, start: str, first_line: int = 1):
        """Lark's LALR loop (ParserState.feed_token) with the inline callbacks."""
        table, rules, chains = self.table, self.rules, self.chains
        stack = [self.start_states[start]]
        end_state = self.end_states[start]
        values: list = []
        for tok in self.tokens(text, stack, first_line):
            type_ = tok.type
            while True:
                action = table[stack[-1]][type_]
                if action >= 0:  # shift
                    stack.append(action)
                    values.append(tok)
                    break
                size, origin, cb = rules[~action]
                if cb is None:  # a single child passed through: only the state changes,
                    key = (stack[-2], stack[-1], type_)  # through the whole run of them
                    top = chains.get(key)
                    if top is None:
                        top = chains[key] = self._chain(stack[-2], stack[-1], type_)
                    stack[-1] = top
                    continue
                if size:
                    children = values[-size:]
                    del stack[-size:]
                    del values[-size:]
                else:
                    children = []
                values.append(cb(children))
                stack.append(table[stack[-1]][origin])
        while True:  # $END
            action = table[stack[-1]]["$END"]
            if action >= 0:
                raise _Reject("shift of $END")
            size, origin, cb = rules[~action]
            if cb is None:
                state = stack[-1] = table[stack[-2]][origin]
            else:
                if size:
                    children = values[-size:]
                    del stack[-size:]
                    del values[-size:]
                else:
                    children = []
                values.append(cb(children))
                state = table[stack[-1]][origin]
                stack.append(state)
            if state == end_state:
                return values[-1]


_LEAN: list = [None, False]  # the driver (None: Lark only), loaded?


def _lean() -> _Lean | None:
    if not _LEAN[1]:
        lean = None
        data = _load_tables(grammar_text())
        if data is not None:
            try:
                lean = _Lean(data)
            except (KeyError, TypeError, ValueError, IndexError):
                lean = None
        if lean is None:
            data = _export()
            if data is not None:
                lean = _Lean(data)
        _LEAN[0], _LEAN[1] = lean, True
    return _LEAN[0]


# ---- entry points ----


def _prepare(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.rstrip(" \t\f")
    if not text.endswith("\n"):
        text += "\n"
    return text


def _run(text, source, start, first_line=1):
    # NOTE: the cyclic GC slows parsing of long texts by ~2x (many small objects): off here.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_nogc(text, source, start, first_line)
    finally:
        if enabled:
            gc.enable()


def _run_nogc(text, source, start, first_line=1):
    prepared = _prepare(text)
    lean = _lean()
    if lean is not None:
        try:
            return lean.parse(prepared, start, first_line)
        except RecursionError:
            raise ParseError("the expression is nested too deeply", source=source,
                             line=first_line, column=1) from None
        except Exception:
            pass  # let Lark's own loop find and describe the error
    from gradcalc.lang import larkparser

    if first_line > 1:  # Lark numbers from 1: blank lines before the text (a rare path)
        pad = "\n" * (first_line - 1)
        try:
            return larkparser.parse(pad + prepared, source, start)
        except ParseError as e:
            if e.line is not None and e.line < first_line:
                e.line, e.source_line = first_line, prepared.split("\n", 1)[0]
            raise
    return larkparser.parse(prepared, source, start)


def parse(text: str, source: str = "<input>", first_line: int = 1) -> Program:
    """Parse a whole text (a script, a REPL entry, an `eval` argument) into a Program.

    `first_line` numbers the text's first line (a statement read from line 12 of a file):
    every position in the tree and in errors is then a line of the whole file.
    """
    if not isinstance(text, str):
        raise ParseError("source text must be a string", source=source)
    if first_line == 1:
        text = text.removeprefix("\ufeff")  # a byte order mark opening a script: Python skips it
    if "\x00" in text:
        i = text.index("\x00")
        line = text.count("\n", 0, i) + first_line
        raise ParseError("source contains a null byte", source=source, line=line,
                         column=i - (text.rfind("\n", 0, i) + 1) + 1)
    if text[:1] in _INDENT_CHARS:
        _check_first_indent(text, source, first_line)
    body = _run(text, source, "file_input", first_line)
    return Program(body, source, text, first_line)


_INDENT_CHARS = (" ", "\t", "\f", "\r", "\n", "#")


def _check_first_indent(text: str, source: str, first_line: int) -> None:
    """Python's `IndentationError: unexpected indent` for an indented first statement (the
    Indenter only sees indentation after a newline); blank and comment lines do not count,
    and a form feed resets the indentation, as in Python's tokenizer."""
    line, i, n = first_line, 0, len(text)
    while i < n:
        end = text.find("\n", i)
        end = n if end < 0 else end
        row = text[i:end].rstrip("\r")
        body = row.lstrip(" \t\f")
        if body and not body.startswith("#"):
            indent = row[:len(row) - len(body)]
            indent = indent[indent.rfind("\f") + 1:]
            if indent:
                raise ParseError("unexpected indent", source=source, line=line,
                                 column=len(row) - len(body) + 1, source_line=row)
            return
        line, i = line + 1, end + 1


def parse_expression(text: str, source: str = "<input>") -> Node:
    """Parse one expression (or a bare tuple of them)."""
    return _run(text, source, "eval_input")


def needs_more(text: str) -> bool:
    """True while `text` stops inside an open bracket, string or block header (it parses
    only with more lines); a syntax error or a whole statement is False."""
    try:
        parse(text)
    except IncompleteInput:
        return True
    except ParseError:
        return False
    return False


#: statements that hold a block: a REPL entry holding one ends with an empty line
_COMPOUND = frozenset({"if", "for", "while", "def", "class", "with"})


def is_complete(text: str) -> bool:
    """True when a REPL entry is ready to run, as in Python's REPL: not inside an open bracket,
    string or block header, and, when it holds a block (def, for, if ...), its last line
    is empty. A syntax error is complete (running it reports the error)."""
    if not text.strip():
        return True
    try:
        program = parse(text)
    except IncompleteInput:
        return False
    except ParseError:
        return True
    if not any(node.kind in _COMPOUND for node in program.body):
        return True
    lines = text.replace("\r\n", "\n").split("\n")
    return len(lines) > 1 and not lines[-1].strip()
