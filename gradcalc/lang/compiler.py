"""Language layer: compile syntax-tree expressions into Python closures, once per statement.

Each node becomes a small function of the current Frame; loops and user functions then run
the closures, never the tree. Every operation that can fail is wrapped so the error carries
its source position; every operation that can allocate without bound is checked first.
"""

from __future__ import annotations

import time

from gradcalc.errors import GradcalcError, NameNotFound, ParseError, SecurityError
from gradcalc.lang import limits as L
from gradcalc.lang.builtins import check_method
from gradcalc.lang.runtime import Frame, UserFunction, locate
from gradcalc.lang.safety import SCRIPT_DUNDERS, check_spec, get_attr

# operand classes: 1 plain (float, bool, str ...), 2 tensor, 3 int, 4 sequence
_KIND: dict = {float: 1, bool: 1, complex: 1, type(None): 1, int: 3, str: 4, list: 4, tuple: 4}


def _classify(cls) -> int:
    k = _KIND.get(cls)
    if k is None:
        k = 1
        for base in cls.__mro__:
            if base.__name__ == "Tensor" and base.__module__.startswith("gradcalc"):
                k = 2
                break
        _KIND[cls] = k
    return k


def _broadcast_numel(a, b) -> int:
    sa, sb = tuple(a.shape), tuple(b.shape)
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    out = 1
    for x, y in zip(sa, sb):
        out *= max(x, y)
    return out


def guard_binop(op: str, a, b, limit: int) -> None:
    """Refuse an operation whose result would be over the limits, before computing it."""
    ka, kb = _classify(a.__class__), _classify(b.__class__)
    if ka == 4 and kb == 4 and op in ("+", "+="):
        L.check_count(len(a) + len(b), limit, "the concatenation")
    elif ka == 2 and kb == 2:
        if a.numel() * b.numel() > limit:
            n = a.numel() * b.numel() if op == "@" else _broadcast_numel(a, b)
            L.check_count(n, limit, f"'{op}'")
    elif op in ("*", "*="):
        if ka == 3 and kb == 3:
            L.check_int_bits(a.bit_length() + b.bit_length(), "the product")
        elif ka == 4 and kb == 3:
            L.check_count(len(a) * b, limit, "the repetition")
        elif ka == 3 and kb == 4:
            L.check_count(len(b) * a, limit, "the repetition")
    elif op in ("**", "**="):
        if ka == 3 and kb == 3 or ka == 3 and b.__class__ is bool:
            L.check_int_pow(a, b)
    elif op in ("<<", "<<="):
        if ka == 3 and kb == 3:
            L.check_int_bits(a.bit_length() + max(b, 0), "the shift")


# operators whose operand kinds need a guard (besides tensor broadcasting)
_GUARD_ALWAYS = {"*", "**", "<<"}


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
        "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
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
        always = op in _GUARD_ALWAYS
        if op == "+":
            def run(f):
                a = lf(f)
                b = rf(f)
                try:
                    ka = kget(a.__class__) or classify(a.__class__)
                    if ka > 1 and ka != 3 and ka == (kget(b.__class__) or classify(b.__class__)):
                        guard("+", a, b, rt.max_elements)
                    return a + b
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return run
        if op == "-":
            def run(f):
                a = lf(f)
                b = rf(f)
                try:
                    if (kget(a.__class__) or classify(a.__class__)) == 2 and (
                            kget(b.__class__) or classify(b.__class__)) == 2:
                        guard("-", a, b, rt.max_elements)
                    return a - b
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return run
        if op == "*":
            def run(f):
                a = lf(f)
                b = rf(f)
                try:
                    if (kget(a.__class__) or classify(a.__class__)) != 1 and (
                            kget(b.__class__) or classify(b.__class__)) != 1:
                        guard("*", a, b, rt.max_elements)
                    return a * b
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return run
        fn = _make_binop(op)

        def run(f):
            a = lf(f)
            b = rf(f)
            try:
                ka = kget(a.__class__) or classify(a.__class__)
                kb = kget(b.__class__) or classify(b.__class__)
                if ka == kb == 2 or always and ka != 1 and kb != 1:
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
                    if (kget(a.__class__) or classify(a.__class__)) == 2 and (
                            kget(b.__class__) or classify(b.__class__)) == 2:
                        guard_binop(op, a, b, rt.max_elements)
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
        check = None
        if func.kind == "attr":
            mname = func.args[1]
            if mname in ("repeat", "tile"):
                check = _grow_check(rt, mname)
            elif mname.startswith("new_"):
                sized = check_method(rt, mname)
                if sized is not None:
                    def check(fn, a, k, sized=sized):
                        sized(a, k)
        ff = self.expr(func)
        pos, kws, simple = self.args_of(args)
        names = [k for k, _ in kws]
        if len(set(n for n in names if n)) != len([n for n in names if n]):
            raise self.fail(node, "keyword argument repeated")
        if simple and not kws and check is None:
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
                if check is not None:
                    check(fn, a, k)
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

        def run(f):
            return "".join([p if p.__class__ is str else p(f) for p in parts])
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
        ef = None

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
            count = 0
            for x in it:
                count += 1
                if count & 1023 == 0:
                    if count > rt.max_elements:
                        raise locate(L.too_big("the comprehension", count, rt.max_elements),
                                     program, line, col)
                    if rt.deadline is not None and time.monotonic() > rt.deadline:
                        rt.timed_out()
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

        def run_loops(outer_frame, frame, mode):
            g = gen(outer_frame, frame, 0)
            if mode == "gen":
                return g
            out = []
            append = out.append
            for v in g:
                append(v)
            return out
        return run_loops


def _grow_check(rt, name):
    def check(fn, args, kwargs):
        obj = getattr(fn, "__self__", None)
        numel = getattr(obj, "numel", None)
        if numel is None:
            return
        sizes = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        n = L.shape_numel(sizes)
        L.check_count(numel() * max(n, 1), rt.max_elements, f"{name}()")
    return check


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
            if rt.deadline is not None and time.monotonic() > rt.deadline:
                rt.timed_out()
    return out


__all__ = ["ExpressionCompiler", "Scope", "UserFunction", "guard_binop"]


def _close_matches(word, possibilities, n=3):
    """difflib.get_close_matches, imported on the first miss only (not at every start)."""
    from difflib import get_close_matches

    return get_close_matches(word, possibilities, n=n)
