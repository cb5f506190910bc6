"""Language layer: compile syntax-tree expressions into Python closures, once per statement.

Each node becomes a small function of the current Frame; loops and user functions then run
the closures, never the tree. Every operation that can fail is wrapped so the error carries
its source position; every operation that can allocate without bound is checked first.
"""

from __future__ import annotations

from gradcalc.errors import GradcalcError, NameNotFound, ParseError, SecurityError
from gradcalc.lang import limits as L
from gradcalc.lang.builtins import calculator_form
from gradcalc.lang.runtime import Frame, UserFunction, locate
from gradcalc.lang.safety import SCRIPT_DUNDERS, check_spec, contains, get_attr

# operand classes, chosen so that `ka + kb >= 4` says a binary operator needs `guard_binop`:
# 1 plain (float, bool, None, tensors: the core guards its own allocations), 2 int,
# 4 sequence (str, list, tuple), 8 NumPy array
_KIND: dict = {float: 1, bool: 1, complex: 1, type(None): 1, int: 2, str: 4, list: 4, tuple: 4}


def _classify(cls) -> int:
    k = _KIND.get(cls)
    if k is None:
        k = 1
        for base in cls.__mro__:
            if base.__name__ == "ndarray" and base.__module__ == "numpy":
                k = 8
                break
            if base in (str, list, tuple):
                k = 4
                break
            if base is int:
                k = 2
                break
        _KIND[cls] = k
    return k


def guard_binop(op: str, a, b, limit: int) -> None:
    """Refuse an operator on Python objects whose result would be over the limits, before
    computing it (tensors are the core's: its allocation guard checks every result)."""
    ka, kb = _classify(a.__class__), _classify(b.__class__)
    if ka == 4 or kb == 4:
        if op in ("+", "+="):
            if ka == kb:
                _check_sequence(len(a) + len(b), a, limit, "the concatenation")
        elif op in ("*", "*="):
            seq, count = (a, b) if ka == 4 else (b, a)
            n = L.as_count(count)
            if n is not None:
                _check_sequence(len(seq) * max(n, 0), seq, limit, "the repetition")
        elif op in ("%", "%=") and ka == 4 and a.__class__ is str:
            n = len(a)
            for w in L.printf_widths(a, b):
                if w > limit:
                    raise L.LimitError(f"format width {w:,} is over the limit of {limit:,}",
                                       limit="max_elements")
                n += w
            for v in b if b.__class__ is tuple else (b,):
                if v.__class__ is str:
                    n += len(v)
            _check_sequence(n, a, limit, "the formatted string")
    elif ka == 2 and kb == 2:
        if op in ("*", "*="):
            L.check_int_bits(a.bit_length() + b.bit_length(), "the product")
        elif op in ("**", "**="):
            L.check_int_pow(a, b)
        elif op in ("<<", "<<="):
            L.check_int_bits(a.bit_length() + max(b, 0), "the shift")
    elif ka == 8 or kb == 8:
        from gradcalc.core import alloc

        alloc.check_broadcast(op.rstrip("="), a, b)


#: ints under this magnitude multiply without a check (their product is under MAX_INT_BITS)
_HALF_INT = 1 << (L.MAX_INT_BITS // 2)


def _pow_grows(a, b) -> bool:
    """Whether int a ** int b may be over MAX_INT_BITS (guard_binop then decides exactly)."""
    return b > 1 and a.bit_length() * b > L.MAX_INT_BITS


def _shift_grows(a, b) -> bool:
    return b > 0 and a.bit_length() + b > L.MAX_INT_BITS


def _check_sequence(n: int, like, limit: int, what: str) -> None:
    """A str/list/tuple of `n` items like `like`: the element limit and its memory."""
    L.check_count(n, limit, what)
    from gradcalc.core import alloc

    g = alloc.current()
    if g is not None:
        g.memory(n if like.__class__ is str else 8 * n, what)  # bytes of a str's chars, or
        #                                                         of a list's item pointers


def _make_binop(op):
    import operator as o

    return {
        "+": o.add, "-": o.sub, "*": o.mul, "/": o.truediv, "//": o.floordiv, "%": o.mod,
        "**": o.pow, "@": o.matmul, "<<": o.lshift, ">>": o.rshift, "&": o.and_, "|": o.or_,
        "^": o.xor,
    }[op]


def _make_inplace(op):
    import operator as o

    return {
        "+": o.iadd, "-": o.isub, "*": o.imul, "/": o.itruediv, "//": o.ifloordiv,
        "%": o.imod, "**": o.ipow, "@": o.imatmul, "<<": o.ilshift, ">>": o.irshift,
        "&": o.iand, "|": o.ior, "^": o.ixor,
    }[op]


def _compare_fn(op):
    import operator as o

    return {
        "<": o.lt, ">": o.gt, "==": o.eq, ">=": o.ge, "<=": o.le, "!=": o.ne,
        "in": contains, "not in": lambda a, b: not contains(a, b),
        "is": o.is_, "is not": o.is_not,
    }[op]


class Scope:
    """Compile-time facts about the code being compiled: where names go, loops, methods."""

    def __init__(self, kind, parent=None, globals_=(), nonlocals=(), method=False):
        self.kind = kind  # 'module' | 'function' | 'class' | 'lambda' | 'comp'
        self.parent = parent
        self.globals = set(globals_)
        self.nonlocals = set(nonlocals)
        self.loops = 0
        self.method = method

    @property
    def in_function(self):
        s = self
        while s is not None:
            if s.kind == "function":
                return True
            if s.kind in ("module", "class"):
                return False
            s = s.parent
        return False

    @property
    def in_method(self):
        s = self
        while s is not None:
            if s.kind == "function":
                return s.method
            s = s.parent
        return False


class ExpressionCompiler:
    """Node -> closure for expressions (mixed into Compiler with the statement half)."""

    def __init__(self, rt, registry, program):
        self.rt = rt
        self.reg = registry
        self.program = program
        self.scope = Scope("module")

    # -- helpers --
    def fail(self, node, message, cls=ParseError, at=None):
        """An error at `node` (or at the (line, column) `at`, as an attribute's name)."""
        line, column = at if at is not None else (node.line, node.column)
        return cls(message, source=self.program.source, line=line, column=column,
                   source_line=self.program.line_text(line))

    def expr(self, node):
        try:
            method = getattr(self, "e_" + node.kind)
        except AttributeError:
            raise self.fail(node, f"'{node.kind}' cannot be used as an expression") from None
        return method(node)

    # -- leaves --
    def e_const(self, node):
        value = node.args[0]
        return lambda f: value

    def e_name(self, node):
        name = node.args[0]
        if self.scope.kind != "module" and name in self.scope.globals:
            return self._global_load(node, name)
        reg, program, line, col = self.reg, self.program, node.line, node.column
        lookup = reg.lookup
        missing = self._missing_name

        if self.scope.kind == "module":
            def load(f):
                try:
                    return f.vars[name]
                except KeyError:
                    pass
                try:
                    return lookup(name)
                except KeyError:
                    raise missing(f, name, line, col) from None
                except GradcalcError as e:
                    raise locate(e, program, line, col) from None
            return load

        def load_nested(f):
            try:
                return f.vars[name]
            except KeyError:
                pass
            p = f.parent
            while p is not None:
                if not p.is_class:
                    try:
                        return p.vars[name]
                    except KeyError:
                        pass
                p = p.parent
            try:
                return lookup(name)
            except KeyError:
                raise missing(f, name, line, col) from None
            except GradcalcError as e:
                raise locate(e, program, line, col) from None
        return load_nested

    def _global_load(self, node, name):
        lookup, missing, line, col = self.reg.lookup, self._missing_name, node.line, node.column

        def load(f):
            try:
                return f.module.vars[name]
            except KeyError:
                pass
            try:
                return lookup(name)
            except KeyError:
                raise missing(f, name, line, col) from None
        return load

    def _missing_name(self, f, name, line, col):
        module = {"np": "numpy as np"}.get(name, name)
        if module.split(" ")[0] in self.reg.modules and "." not in name:  # not imported yet
            return NameNotFound(name, message=f"name '{name}' is not defined (import {module} "
                                "first)", source=self.program.source, line=line, column=col,
                                source_line=self.program.line_text(line))
        seen = set()
        p = f
        while p is not None:
            seen |= {k for k in p.vars if isinstance(k, str)}
            p = p.parent
        try:
            candidates = list(seen) + self.reg.candidates()
        except GradcalcError:
            candidates = list(seen)
        matches = _close_matches(name, candidates, n=3)
        return NameNotFound(name, matches, source=self.program.source, line=line, column=col,
                            source_line=self.program.line_text(line))

    # -- operators --
    def e_binop(self, node):
        op, left, right = node.args
        lf, rf = self.expr(left), self.expr(right)
        program, line, col, rt = self.program, node.line, node.column, self.rt
        kget, classify = _KIND.get, _classify
        guard = guard_binop
        if op == "+":
            def run(f):
                a = lf(f)
                b = rf(f)
                try:
                    if (kget(a.__class__) or classify(a.__class__)) + (
                            kget(b.__class__) or classify(b.__class__)) >= 8:
                        guard("+", a, b, rt.max_elements)  # sequences, arrays
                    return a + b
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return run
        if op == "*":
            half = _HALF_INT

            def run(f):
                a = lf(f)
                b = rf(f)
                try:
                    s = (kget(a.__class__) or classify(a.__class__)) + (
                        kget(b.__class__) or classify(b.__class__))
                    if s > 4 or s == 4 and not (-half < a < half and -half < b < half):
                        guard("*", a, b, rt.max_elements)  # repetitions, large ints, arrays
                    return a * b
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return run
        if op in ("**", "<<"):
            fn = _make_binop(op)
            grows = _pow_grows if op == "**" else _shift_grows

            def run(f):
                a = lf(f)
                b = rf(f)
                try:
                    s = (kget(a.__class__) or classify(a.__class__)) + (
                        kget(b.__class__) or classify(b.__class__))
                    if s >= 8 or s == 4 and grows(a, b):
                        guard(op, a, b, rt.max_elements)
                    return fn(a, b)
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return run
        fn = _make_binop(op)
        threshold = 5 if op == "%" else 8  # str % args; any operator on NumPy arrays

        def run(f):
            a = lf(f)
            b = rf(f)
            try:
                if (kget(a.__class__) or classify(a.__class__)) + (
                        kget(b.__class__) or classify(b.__class__)) >= threshold:
                    guard(op, a, b, rt.max_elements)
                return fn(a, b)
            except Exception as e:
                raise locate(e, program, line, col) from None
        return run

    def e_unary(self, node):
        op, operand = node.args
        of = self.expr(operand)
        program, line, col = self.program, node.line, node.column
        if op == "not":
            def run(f):
                v = of(f)
                try:
                    return not v
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return run
        if op == "-":
            def neg(f):
                v = of(f)
                try:
                    return -v
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return neg
        import operator as o

        fn = {"+": o.pos, "~": o.invert}[op]

        def run(f):
            v = of(f)
            try:
                return fn(v)
            except Exception as e:
                raise locate(e, program, line, col) from None
        return run

    def e_boolop(self, node):
        op, operands = node.args
        fns = [self.expr(o) for o in operands]
        program = self.program
        positions = [(o.line, o.column) for o in operands]

        def truth(v, i):
            try:
                return bool(v)
            except Exception as e:
                raise locate(e, program, *positions[i]) from None

        if op == "and":
            def run(f):
                v = None
                for i, fn in enumerate(fns):
                    v = fn(f)
                    if not truth(v, i):
                        return v
                return v
        else:
            def run(f):
                v = None
                for i, fn in enumerate(fns):
                    v = fn(f)
                    if truth(v, i):
                        return v
                return v
        return run

    def e_compare(self, node):
        ops, operands, positions = node.args
        fns = [self.expr(o) for o in operands]
        cmps = [_compare_fn(op) for op in ops]
        program, rt = self.program, self.rt
        kget, classify = _KIND.get, _classify
        if len(cmps) == 1:
            lf, rf, cmp, (line, col), op = fns[0], fns[1], cmps[0], positions[0], ops[0]

            def run(f):
                a = lf(f)
                b = rf(f)
                try:
                    if (kget(a.__class__) or classify(a.__class__)) + (
                            kget(b.__class__) or classify(b.__class__)) >= 9:
                        guard_binop(op, a, b, rt.max_elements)  # NumPy arrays broadcast
                    return cmp(a, b)
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return run

        def chain(f):
            a = fns[0](f)
            result = True
            for i, cmp in enumerate(cmps):
                b = fns[i + 1](f)
                try:
                    result = cmp(a, b)
                    if not result:
                        return result
                except Exception as e:
                    raise locate(e, program, *positions[i]) from None
                a = b
            return result
        return chain

    def e_ifexp(self, node):
        test, body, orelse = node.args
        tf, bf, of = self.expr(test), self.expr(body), self.expr(orelse)
        program, line, col = self.program, test.line, test.column

        def run(f):
            t = tf(f)
            try:
                t = bool(t)
            except Exception as e:
                raise locate(e, program, line, col) from None
            return bf(f) if t else of(f)
        return run

    # -- attribute, index, call --
    def e_attr(self, node):
        obj, name, (line, col) = node.args
        of = self.expr(obj)
        program = self.program
        if name[:1] == "_" and name not in SCRIPT_DUNDERS:
            raise self.fail(node, f"access to '{name}' is not allowed (gradcalc scripts cannot "
                                  "reach underscore attributes)", SecurityError, at=(line, col))

        def run(f):
            o = of(f)
            try:
                return get_attr(o, name)
            except Exception as e:
                raise locate(e, program, line, col) from None
        return run

    def e_index(self, node):
        obj, sub = node.args
        of, sf = self.expr(obj), self.subscript(sub)
        program, line, col = self.program, node.line, node.column

        def run(f):
            o = of(f)
            k = sf(f)
            try:
                return o[k]
            except Exception as e:
                raise locate(e, program, line, col) from None
        return run

    def subscript(self, node):
        if node.kind == "slice":
            return self.e_slice(node)
        if node.kind == "tuple" and any(e.kind == "slice" for e in node.args[0]):
            parts = [self.subscript(e) for e in node.args[0]]
            return lambda f: tuple([p(f) for p in parts])
        return self.expr(node)

    def e_slice(self, node):
        lo, hi, step = (self.expr(x) if x is not None else None for x in node.args)
        if step is None:
            if lo is None and hi is None:
                return lambda f: slice(None)
            if hi is None:
                return lambda f: slice(lo(f), None)
            if lo is None:
                return lambda f: slice(None, hi(f))
            return lambda f: slice(lo(f), hi(f))
        return lambda f: slice(lo(f) if lo else None, hi(f) if hi else None, step(f))

    def args_of(self, args):
        """(positional closures, has_star, keyword closures, has_kwstar) of a call."""
        pos, kws = [], []
        simple = True
        for a in args:
            if isinstance(a, tuple):
                if a[0] == "kw":
                    kws.append((a[1], self.expr(a[2])))
                else:
                    simple = False
                    kws.append((None, self.expr(a[1])))
            elif a.kind == "starred":
                simple = False
                pos.append(("*", self.expr(a.args[0])))
            else:
                pos.append((None, self.expr(a)))
        return pos, kws, simple

    def e_call(self, node):
        func, args = node.args
        if func.kind == "name" and func.args[0] == "super" and not args:
            return self._super(node)
        program, line, col, rt = self.program, node.line, node.column, self.rt
        ff = self.expr(func)
        if func.kind == "name":  # a bare name's call: the calculator's form (sqrt(2) answers)
            named = ff

            def ff(f):
                return calculator_form(named(f))
        pos, kws, simple = self.args_of(args)
        names = [k for k, _ in kws]
        if len(set(n for n in names if n)) != len([n for n in names if n]):
            raise self.fail(node, "keyword argument repeated")
        if simple and not kws:
            fns = [p for _, p in pos]
            if len(fns) == 0:
                def call0(f):
                    fn = ff(f)
                    try:
                        return fn()
                    except Exception as e:
                        raise locate(e, program, line, col) from None
                return call0
            if len(fns) == 1:
                a0 = fns[0]

                def call1(f):
                    fn = ff(f)
                    x = a0(f)
                    try:
                        return fn(x)
                    except Exception as e:
                        raise locate(e, program, line, col) from None
                return call1
            if len(fns) == 2:
                a0, a1 = fns

                def call2(f):
                    fn = ff(f)
                    x = a0(f)
                    y = a1(f)
                    try:
                        return fn(x, y)
                    except Exception as e:
                        raise locate(e, program, line, col) from None
                return call2
        guard = _star_guard(rt)

        def call(f):
            fn = ff(f)
            a = []
            for star, p in pos:
                if star:
                    a.extend(guard(p(f)))
                else:
                    a.append(p(f))
            k = {}
            for name, p in kws:
                if name is None:
                    v = p(f)
                    try:
                        for key in v:
                            if not isinstance(key, str):
                                raise TypeError("keywords must be strings")
                            if key in k:
                                raise TypeError(f"got multiple values for keyword argument '{key}'")
                            k[key] = v[key]
                    except Exception as e:
                        raise locate(e, program, line, col) from None
                else:
                    k[name] = p(f)
            try:
                return fn(*a, **k)
            except Exception as e:
                raise locate(e, program, line, col) from None
        return call

    def _super(self, node):
        program, line, col = self.program, node.line, node.column
        if not self.scope.in_method:
            raise self.fail(node, "super() without arguments works only inside a method of a class")

        def run(f):
            p = f
            while p is not None and not (p.fn is not None and p.fn.owner_class is not None):
                p = p.parent
            if p is None or not p.fn.params:
                raise locate(RuntimeError("super(): no arguments"), program, line, col)
            return super(p.fn.owner_class, p.vars[p.fn.params[0]])
        return run

    # -- displays --
    def _elements(self, elts):
        parts = [(e.kind == "starred", self.expr(e.args[0] if e.kind == "starred" else e))
                 for e in elts]
        if not any(s for s, _ in parts):
            fns = [p for _, p in parts]
            return lambda f: [p(f) for p in fns]
        guard = _star_guard(self.rt)

        def build(f):
            out = []
            for star, p in parts:
                if star:
                    out.extend(guard(p(f)))
                else:
                    out.append(p(f))
            return out
        return build

    def e_list(self, node):
        return self._elements(node.args[0])

    def e_tuple(self, node):
        build = self._elements(node.args[0])
        return lambda f: tuple(build(f))

    def e_set(self, node):
        build = self._elements(node.args[0])
        program, line, col = self.program, node.line, node.column

        def run(f):
            items = build(f)
            try:
                return set(items)
            except Exception as e:
                raise locate(e, program, line, col) from None
        return run

    def e_dict(self, node):
        items = [(self.expr(k) if k is not None else None, self.expr(v)) for k, v in node.args[0]]
        program, line, col = self.program, node.line, node.column

        def run(f):
            d = {}
            try:
                for k, v in items:
                    if k is None:
                        d.update(v(f))
                    else:
                        d[k(f)] = v(f)
            except GradcalcError:
                raise
            except Exception as e:
                raise locate(e, program, line, col) from None
            return d
        return run

    def e_starred(self, node):
        raise self.fail(node, "can't use starred expression here")

    def e_fstring(self, node):
        parts = []
        for p in node.args[0]:
            if isinstance(p, str):
                parts.append(p)
            else:
                parts.append(self._field(node, p))
        if all(isinstance(p, str) for p in parts):
            text = "".join(parts)
            return lambda f: text

        limit = self.rt.max_elements
        program, line, col = self.program, node.line, node.column

        def run(f):
            out = "".join([p if p.__class__ is str else p(f) for p in parts])
            if len(out) > limit:  # built by now, but never bigger than its fields allowed
                raise locate(L.LimitError(
                    f"the f-string would have {len(out):,} characters, over the limit of "
                    f"{limit:,}", limit="max_elements"), program, line, col)
            return out
        return run

    def _field(self, node, field):
        _, expr, conv, spec, debug = field
        ef = self.expr(expr)
        spec_parts = [p if isinstance(p, str) else self._field(node, p) for p in spec]
        const_spec = "".join(spec_parts) if all(isinstance(p, str) for p in spec_parts) else None
        convert = {None: None, "r": repr, "s": str, "a": ascii}[conv]
        program, line, col, rt = self.program, expr.line, expr.column, self.rt
        if const_spec is not None:
            check_spec(const_spec, rt.max_elements)

        def run(f):
            v = ef(f)
            try:
                if const_spec is None:
                    s = "".join([p if p.__class__ is str else p(f) for p in spec_parts])
                    check_spec(s, rt.max_elements)
                else:
                    s = const_spec
                if convert is not None:
                    v = convert(v)
                out = format(v, s)
            except Exception as e:
                raise locate(e, program, line, col) from None
            return debug + out if debug is not None else out
        return run

    # -- functions and comprehensions --
    def e_lambda(self, node):
        params, body = node.args
        return self.function("<lambda>", params, [], node, body=body, is_lambda=True)

    def e_genexp(self, node):
        elt, fors = node.args
        run_loops = self._comprehension(node, fors, [elt])

        def run(f):
            frame = Frame({}, f)
            return run_loops(f, frame, "gen")
        run.__name__ = "genexp"
        return run

    def e_listcomp(self, node):
        elt, fors = node.args
        run_loops = self._comprehension(node, fors, [elt])
        return lambda f: run_loops(f, Frame({}, f), "list")

    def e_setcomp(self, node):
        elt, fors = node.args
        run_loops = self._comprehension(node, fors, [elt])
        return lambda f: set(run_loops(f, Frame({}, f), "list"))

    def e_dictcomp(self, node):
        key, value, fors = node.args
        run_loops = self._comprehension(node, fors, [key, value])
        return lambda f: dict(run_loops(f, Frame({}, f), "list"))

    def _comprehension(self, node, fors, elts):
        outer = self.scope
        # the first iterable is evaluated in the enclosing scope
        first_iter = self.expr(fors[0][1])
        self.scope = Scope("comp", outer)
        try:
            loops = []
            for i, (target, iterable, ifs) in enumerate(fors):
                it = first_iter if i == 0 else self.expr(iterable)
                loops.append((self.target(target), it, [self.expr(c) for c in ifs],
                              (iterable.line, iterable.column)))
            efs = [self.expr(e) for e in elts]
        finally:
            self.scope = outer
        rt, program = self.rt, self.program
        pair = len(efs) == 2
        ef = efs[0]
        kf = efs[0] if pair else None
        vf = efs[1] if pair else None
        n = len(loops)

        def gen(outer_frame, frame, depth):
            store, it_fn, conds, (line, col) = loops[depth]
            src = it_fn(outer_frame if depth == 0 else frame)
            try:
                it = iter(src)
            except Exception as e:
                raise locate(e, program, line, col) from None
            for x in it:
                left = rt.left - 1
                rt.left = left
                if left <= 0:
                    try:
                        rt.tick()
                    except GradcalcError as e:
                        raise locate(e, program, line, col) from None
                store(frame, x)
                ok = True
                for c in conds:
                    if not c(frame):
                        ok = False
                        break
                if not ok:
                    continue
                if depth + 1 == n:
                    yield (kf(frame), vf(frame)) if pair else ef(frame)
                else:
                    yield from gen(outer_frame, frame, depth + 1)

        line, col = node.line, node.column

        def run_loops(outer_frame, frame, mode):
            g = gen(outer_frame, frame, 0)
            if mode == "gen":
                return g
            out = []
            append = out.append
            limit = rt.max_elements
            for v in g:
                append(v)
                if len(out) & 1023 == 0 and len(out) > limit:
                    raise locate(L.too_big("the comprehension", len(out), limit), program,
                                 line, col)
            return out
        return run_loops


def _star_guard(rt):
    def guard(v):
        try:
            n = len(v)
        except Exception:
            return _counted(v, rt)
        L.check_count(n, rt.max_elements, "the unpacked sequence")
        return v
    return guard


def _counted(it, rt):
    out = []
    for x in it:
        out.append(x)
        if len(out) & 1023 == 0:
            L.check_count(len(out), rt.max_elements, "the unpacked sequence")
            rt.check_clock()
    return out


__all__ = ["ExpressionCompiler", "Scope", "UserFunction", "guard_binop"]


def _close_matches(word, possibilities, n=3):
    """difflib.get_close_matches, imported on the first miss only (not at every start)."""
    from difflib import get_close_matches

    return get_close_matches(word, possibilities, n=n)
