"""Language layer: compile statements (assignments, blocks, loops, def, class, import) into
closures that return None or a control signal (BREAK, CONTINUE, RETURN).
"""

from __future__ import annotations

import types
from itertools import islice

from gradcalc.errors import (
    EvalError,
    GradcalcError,
    GradcalcTypeError,
    NameNotFound,
    ParseError,
    SecurityError,
)
from gradcalc.lang import limits as L
from gradcalc.lang.compiler import ExpressionCompiler, Scope, _classify, _KIND, guard_binop
from gradcalc.lang.compiler import _make_inplace
from gradcalc.lang.runtime import (
    BREAK,
    CONTINUE,
    RETURN,
    Frame,
    ScriptError,
    UserFunction,
    locate,
)
from gradcalc.lang.safety import _is_core_type, bounded_items, del_attr, set_attr


class Statement:
    """One compiled top-level statement: `run(frame)`, or `expr(frame)` for an expression."""

    __slots__ = ("node", "line", "column", "run", "expr", "program", "kind")

    def __init__(self, node, run, expr, program):
        self.node = node
        self.line = node.line
        self.column = node.column
        self.run = run
        self.expr = expr
        self.program = program
        self.kind = node.kind

    def __repr__(self):
        return f"<Statement {self.kind} at {self.line}:{self.column}>"


def _scan_decls(body, kind):
    """Names declared `global`/`nonlocal` in a function body (not in nested defs)."""
    out = set()
    stack = list(body)
    while stack:
        n = stack.pop()
        if n.kind == kind:
            out |= set(n.args[0])
        elif n.kind in ("if", "while", "for"):
            for part in n.args:
                if isinstance(part, list):
                    stack.extend(part)
        elif n.kind == "with":
            stack.extend(n.args[1])
    return out


def _docstring(stmts) -> str | None:
    """The docstring opening a def's body (a string constant as its first statement)."""
    if not stmts or stmts[0].kind != "expr":
        return None
    node = stmts[0].args[0]
    if node.kind == "const" and isinstance(node.args[0], str):
        return node.args[0]
    return None


class Compiler(ExpressionCompiler):
    """Syntax tree -> closures for one Program, in one session's runtime."""

    def compile_program(self, program) -> list[Statement]:
        out = []
        for node in program.body:
            out.append(self.top(node))
        return out

    def top(self, node) -> Statement:
        try:
            if node.kind == "expr":
                return Statement(node, None, self.expr(node.args[0]), self.program)
            return Statement(node, self.stmt(node), None, self.program)
        except RecursionError:
            raise self.fail(node, "the statement is nested too deeply") from None

    # -- blocks --
    def block(self, nodes):
        fns = [self.stmt(n) for n in nodes]
        if not fns:
            return lambda f: None
        if len(fns) == 1:
            return fns[0]
        if len(fns) == 2:
            s0, s1 = fns

            def run2(f):
                r = s0(f)
                if r is not None:
                    return r
                return s1(f)
            return run2

        def run(f):
            for s in fns:
                r = s(f)
                if r is not None:
                    return r
            return None
        return run

    def stmt(self, node):
        try:
            method = getattr(self, "s_" + node.kind)
        except AttributeError:
            raise self.fail(node, f"'{node.kind}' statements are not supported") from None
        return method(node)

    # -- targets --
    def target(self, node):
        """A closure store(frame, value) for an assignment target."""
        kind = node.kind
        program, line, col = self.program, node.line, node.column
        if kind == "name":
            return self._store_name(node.args[0])
        if kind == "attr":
            of, name = self.expr(node.args[0]), node.args[1]
            if name[:1] == "_":
                raise self.fail(node, f"setting '{name}' is not allowed (underscore attributes)",
                                SecurityError, at=node.args[2])

            def store_attr(f, value):
                o = of(f)
                try:
                    set_attr(o, name, value)
                except Exception as e:
                    raise locate(e, program, *node.args[2]) from None
            return store_attr
        if kind == "index":
            of, sf = self.expr(node.args[0]), self.subscript(node.args[1])

            def store_item(f, value):
                o = of(f)
                k = sf(f)
                try:
                    o[k] = value
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return store_item
        if kind in ("tuple", "list"):
            elts = node.args[0]
            stores = [self.target(e.args[0] if e.kind == "starred" else e) for e in elts]
            star = next((i for i, e in enumerate(elts) if e.kind == "starred"), None)
            n = len(elts)
            rt = self.rt

            def store_seq(f, value):
                try:
                    if hasattr(value, "__len__"):
                        L.check_count(len(value), rt.max_elements, "the unpacked value")
                    if star is None:  # as Python: at most one item more than the targets
                        items = list(islice(value, n + 1))
                    else:
                        items = bounded_items(value, "the unpacked value")
                    if star is None:
                        if len(items) != n:
                            raise ValueError(
                                f"too many values to unpack (expected {n})" if len(items) > n
                                else f"not enough values to unpack (expected {n}, got {len(items)})")
                    elif len(items) < n - 1:
                        raise ValueError(f"not enough values to unpack (expected at least {n - 1}, "
                                         f"got {len(items)})")
                except Exception as e:
                    raise locate(e, program, line, col) from None
                if star is None:
                    for s, v in zip(stores, items):
                        s(f, v)
                else:
                    after = n - star - 1
                    for s, v in zip(stores[:star], items[:star]):
                        s(f, v)
                    stores[star](f, items[star:len(items) - after])
                    for s, v in zip(stores[star + 1:], items[len(items) - after:]):
                        s(f, v)
            return store_seq
        raise self.fail(node, "cannot assign to expression")

    def _store_name(self, name):
        scope = self.scope
        if scope.kind != "module" and name in scope.globals:
            def store_global(f, value):
                f.module.vars[name] = value
            return store_global
        if name in scope.nonlocals:
            def store_nonlocal(f, value):
                p = f.parent
                while p is not None and p is not p.module:
                    if name in p.vars and not p.is_class:
                        p.vars[name] = value
                        return
                    p = p.parent
                f.vars[name] = value
            return store_nonlocal

        def store(f, value):
            f.vars[name] = value
        return store

    # -- simple statements --
    def s_expr(self, node):
        ef = self.expr(node.args[0])

        def run(f):
            ef(f)
        return run

    def s_assign(self, node):
        targets, value = node.args
        vf = self.expr(value)
        if len(targets) == 1 and targets[0].kind == "name" and not (
                targets[0].args[0] in self.scope.globals or
                targets[0].args[0] in self.scope.nonlocals):
            name = targets[0].args[0]

            def assign_name(f):
                f.vars[name] = vf(f)
            return assign_name
        stores = [self.target(t) for t in targets]
        if len(stores) == 1:
            store = stores[0]

            def assign1(f):
                store(f, vf(f))
            return assign1

        def assign(f):
            v = vf(f)
            for s in stores:
                s(f, v)
        return assign

    def s_augassign(self, node):
        target, op, value = node.args
        fn = _make_inplace(op)
        vf = self.expr(value)
        program, line, col, rt = self.program, node.line, node.column, self.rt
        kget, classify = _KIND.get, _classify
        opname = op + "="

        def apply(a, b):
            ka = kget(a.__class__) or classify(a.__class__)
            kb = kget(b.__class__) or classify(b.__class__)
            if ka != 1 and kb != 1:
                guard_binop(opname, a, b, rt.max_elements)
            if ka == 4 and a.__class__ is list and not hasattr(b, "__len__"):
                from gradcalc.lang.compiler import _counted

                b = _counted(b, rt)
            return fn(a, b)

        if target.kind == "name":
            load = self.expr(target)
            store = self._store_name(target.args[0])

            def aug_name(f):
                a = load(f)
                b = vf(f)
                try:
                    r = apply(a, b)
                except Exception as e:
                    raise locate(e, program, line, col) from None
                store(f, r)
            return aug_name
        if target.kind == "attr":
            of, name = self.expr(target.args[0]), target.args[1]
            from gradcalc.lang.safety import get_attr

            def aug_attr(f):
                o = of(f)
                try:
                    a = get_attr(o, name)
                except Exception as e:
                    raise locate(e, program, *target.args[2]) from None
                b = vf(f)
                try:
                    set_attr(o, name, apply(a, b))
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return aug_attr
        of, sf = self.expr(target.args[0]), self.subscript(target.args[1])

        def aug_item(f):
            o = of(f)
            k = sf(f)
            try:
                a = o[k]
            except Exception as e:
                raise locate(e, program, target.line, target.column) from None
            b = vf(f)
            try:
                o[k] = apply(a, b)
            except Exception as e:
                raise locate(e, program, line, col) from None
        return aug_item

    def s_del(self, node):
        fns = []
        program = self.program
        for t in node.args[0]:
            line, col = t.line, t.column
            if t.kind == "name":
                name = t.args[0]

                def d(f, name=name, line=line, col=col):
                    vars = f.module.vars if name in self.scope.globals else f.vars
                    try:
                        del vars[name]
                    except KeyError:
                        raise NameNotFound(name, source=program.source, line=line, column=col,
                                           source_line=program.line_text(line)) from None
            elif t.kind == "attr":
                of, name = self.expr(t.args[0]), t.args[1]
                line, col = t.args[2]

                def d(f, of=of, name=name, line=line, col=col):
                    o = of(f)
                    try:
                        del_attr(o, name)
                    except Exception as e:
                        raise locate(e, program, line, col) from None
            elif t.kind == "index":
                of, sf = self.expr(t.args[0]), self.subscript(t.args[1])

                def d(f, of=of, sf=sf, line=line, col=col):
                    o = of(f)
                    k = sf(f)
                    try:
                        del o[k]
                    except Exception as e:
                        raise locate(e, program, line, col) from None
            else:
                sub = self.s_del(type(node)("del", t.line, t.column, list(t.args[0])))
                d = lambda f, sub=sub: sub(f)  # noqa: E731
            fns.append(d)

        def run(f):
            for d in fns:
                d(f)
        return run

    def s_pass(self, node):
        return lambda f: None

    def s_break(self, node):
        if not self.scope.loops:
            raise self.fail(node, "'break' outside loop")
        return lambda f: BREAK

    def s_continue(self, node):
        if not self.scope.loops:
            raise self.fail(node, "'continue' not properly in loop")
        return lambda f: CONTINUE

    def s_return(self, node):
        if self.scope.kind != "function":
            raise self.fail(node, "'return' outside function")
        value = node.args[0]
        if value is None:
            return lambda f: RETURN
        vf = self.expr(value)

        def ret(f):
            f.retval = vf(f)
            return RETURN
        return ret

    def s_global(self, node):
        if self.scope.kind == "module":
            return lambda f: None
        for n in node.args[0]:
            self.scope.globals.add(n)
        return lambda f: None

    def s_nonlocal(self, node):
        if not self.scope.in_function:
            raise self.fail(node, "nonlocal declaration not allowed at module level")
        for n in node.args[0]:
            self.scope.nonlocals.add(n)
        return lambda f: None

    def s_assert(self, node):
        test, msg = node.args
        tf = self.expr(test)
        mf = self.expr(msg) if msg is not None else None
        program, line, col = self.program, node.line, node.column

        def run(f):
            v = tf(f)
            try:
                ok = bool(v)
            except Exception as e:
                raise locate(e, program, test.line, test.column) from None
            if not ok:
                text = "AssertionError"
                if mf is not None:
                    text += f": {mf(f)}"
                raise locate(EvalError(text), program, line, col)
        return run

    def s_raise(self, node):
        value = node.args[0]
        vf = self.expr(value) if value is not None else None
        program, line, col = self.program, node.line, node.column

        def run(f):
            if vf is None:
                raise locate(EvalError("RuntimeError: No active exception to reraise"),
                             program, line, col)
            v = vf(f)
            if callable(v) and getattr(v, "__module__", "") == "gradcalc.lang.builtins":
                v = v()
            if isinstance(v, ScriptError):
                raise locate(v, program, line, col)
            raise locate(EvalError("TypeError: exceptions must derive from BaseException"),
                         program, line, col)
        return run

    # -- imports --
    def s_import(self, node):
        reg, program, line, col = self.reg, self.program, node.line, node.column
        items = node.args[0]
        stores = [(dotted, asname, self._store_name(asname or dotted.split(".")[0]))
                  for dotted, asname in items]

        def run(f):
            for dotted, asname, store in stores:
                try:
                    mod = reg.module(dotted)
                    if asname is None:
                        mod = reg.module(dotted.split(".")[0])
                except Exception as e:
                    raise locate(e, program, line, col) from None
                store(f, mod)
        return run

    def s_importfrom(self, node):
        dotted, names = node.args
        reg, program, line, col = self.reg, self.program, node.line, node.column
        if dotted == "__future__":
            return lambda f: None
        if names == "*":
            def star(f):
                try:
                    reg.module(dotted)
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return star
        stores = [(name, self._store_name(asname or name)) for name, asname in names]

        def run(f):
            try:
                mod = reg.module(dotted)
            except Exception as e:
                raise locate(e, program, line, col) from None
            for name, store in stores:
                sub = f"{dotted}.{name}"
                try:
                    value = reg.module(sub) if sub in reg.modules else mod.get(name)
                except GradcalcError as e:
                    e = EvalError(f"cannot import name '{name}' from '{dotted}'"
                                  + (f" ({e.message})" if "did you mean" in e.message else ""))
                    raise locate(e, program, line, col) from None
                store(f, value)
        return run

    # -- compound statements --
    def s_if(self, node):
        test, body, orelse = node.args
        tf, bf = self.expr(test), self.block(body)
        of = self.block(orelse) if orelse else None
        program, line, col = self.program, test.line, test.column

        def run(f):
            t = tf(f)
            try:
                t = True if t is True else False if t is False else bool(t)
            except Exception as e:
                raise locate(e, program, line, col) from None
            if t:
                return bf(f)
            if of is not None:
                return of(f)
            return None
        return run

    def _loop_body(self, body):
        self.scope.loops += 1
        try:
            return self.block(body)
        finally:
            self.scope.loops -= 1

    def s_while(self, node):
        test, body, orelse = node.args
        tf = self.expr(test)
        bf = self._loop_body(body)
        of = self.block(orelse) if orelse else None
        program, line, col, rt = self.program, test.line, test.column, self.rt

        def run(f):
            while True:
                t = tf(f)
                try:
                    if not t:
                        break
                except Exception as e:
                    raise locate(e, program, line, col) from None
                left = rt.left - 1
                rt.left = left
                if left <= 0:
                    _tick(rt, program, node)
                r = bf(f)
                if r is not None:
                    if r is BREAK:
                        return None
                    if r is CONTINUE:
                        continue
                    return r
            if of is not None:
                return of(f)
            return None
        return run

    def s_for(self, node):
        target, iterable, body, orelse = node.args
        itf = self.expr(iterable)
        if target.kind == "name" and target.args[0] not in self.scope.globals and \
                target.args[0] not in self.scope.nonlocals:
            name = target.args[0]
            store = None
        else:
            name = None
            store = self.target(target)
        bf = self._loop_body(body)
        of = self.block(orelse) if orelse else None
        program, rt = self.program, self.rt
        line, col = iterable.line, iterable.column

        def run(f):
            src = itf(f)
            try:
                it = iter(src)
            except Exception as e:
                raise locate(e, program, line, col) from None
            vars = f.vars
            while True:
                try:
                    x = next(it)
                except StopIteration:
                    break
                except GradcalcError:
                    raise
                except Exception as e:
                    raise locate(e, program, line, col) from None
                left = rt.left - 1
                rt.left = left
                if left <= 0:
                    _tick(rt, program, node)
                if name is not None:
                    vars[name] = x
                else:
                    store(f, x)
                r = bf(f)
                if r is not None:
                    if r is BREAK:
                        return None
                    if r is CONTINUE:
                        continue
                    return r
            if of is not None:
                return of(f)
            return None
        return run

    def s_with(self, node):
        items, body = node.args
        if len(items) > 1:
            inner = type(node)("with", node.line, node.column, items[1:], body)
            bf = self.s_with(inner)
        else:
            bf = self.block(body)
        ef, target = items[0]
        ef = self.expr(ef)
        store = self.target(target) if target is not None else None
        program, line, col = self.program, node.line, node.column

        def run(f):
            cm = ef(f)
            t = type(cm)
            if not (_is_core_type(t) and hasattr(t, "__enter__") and hasattr(t, "__exit__")):
                raise locate(EvalError(f"TypeError: '{t.__name__}' object does not support the "
                                       "context manager protocol"), program, line, col)
            try:
                v = t.__enter__(cm)
            except Exception as e:
                raise locate(e, program, line, col) from None
            if store is not None:
                store(f, v)
            try:
                r = bf(f)
            except BaseException as e:
                if not t.__exit__(cm, type(e), e, e.__traceback__):
                    raise
                return None
            t.__exit__(cm, None, None, None)
            return r
        return run

    # -- def and class --
    def function(self, name, params, decorators, node, body=None, is_lambda=False,
                 stmts=None):
        """Compile a def/lambda into a closure that makes the UserFunction at run time."""
        plain, star, kwonly, starstar = [], None, [], None
        defaults, kwdefaults = [], []
        seen_star = False
        seen = set()
        for kind, pname, default in params:
            if pname in seen:
                raise self.fail(node, f"duplicate argument '{pname}' in function definition")
            if pname is not None:
                seen.add(pname)
            if kind == "plain":
                if seen_star:
                    kwonly.append(pname)
                    if default is not None:
                        kwdefaults.append((pname, self.expr(default)))
                else:
                    if default is None and defaults:
                        raise self.fail(node, "parameter without a default follows parameter "
                                              "with a default")
                    plain.append(pname)
                    if default is not None:
                        defaults.append((pname, self.expr(default)))
            elif kind == "star":
                seen_star = True
                star = pname
            else:
                starstar = pname
        outer = self.scope
        if is_lambda:
            self.scope = Scope("lambda", outer)
            self.scope.kind = "function"
        else:
            self.scope = Scope("function", outer, _scan_decls(stmts, "global"),
                               _scan_decls(stmts, "nonlocal"), method=outer.kind == "class")
        try:
            code = self.expr(body) if is_lambda else self.block(stmts)
        finally:
            self.scope = outer
        rt, program = self.rt, self.program
        decos = [self.expr(d) for d in decorators]
        doc = _docstring(stmts)

        def make(f):
            d = {n: fn(f) for n, fn in defaults}
            kd = {n: fn(f) for n, fn in kwdefaults}
            closure = f.parent if f.is_class else f
            if f.is_class:
                # methods see the names around the class, not the class body's names
                closure = f.parent
            fn = UserFunction(name, plain, d, star, kwonly, kd, starstar, code, closure, rt,
                              program, is_lambda)
            if doc is not None:
                fn.__doc__ = doc  # what help(f) shows
            return fn

        if not decos:
            return make
        line, col = node.line, node.column

        def make_decorated(f):
            deco_values = [d(f) for d in decos]
            fn = make(f)
            for dv in reversed(deco_values):
                try:
                    fn = dv(fn)
                except Exception as e:
                    raise locate(e, program, line, col) from None
            return fn
        return make_decorated

    def s_def(self, node):
        name, params, body, decorators = node.args
        if self.scope.kind == "class" and name[:1] == "_" and name not in CLASS_DUNDERS:
            raise self.fail(node, _class_name_message(name), SecurityError)
        make = self.function(name, params, decorators, node, stmts=body)
        store = self._store_name(name)

        def run(f):
            store(f, make(f))
        return run

    def s_class(self, node):
        name, args, body, decorators = node.args
        if decorators:
            raise self.fail(node, "class decorators are not supported")
        pos, kws, simple = self.args_of(args)
        if kws or not simple:
            raise self.fail(node, "class keywords and starred bases are not supported")
        bases = [p for _, p in pos]
        outer = self.scope
        self.scope = Scope("class", outer)
        try:
            for stmt in body:
                if stmt.kind == "assign":
                    for t in stmt.args[0]:
                        if t.kind == "name" and t.args[0][:1] == "_":
                            raise self.fail(t, _class_name_message(t.args[0]), SecurityError)
            code = self.block(body)
        finally:
            self.scope = outer
        store = self._store_name(name)
        program, line, col = self.program, node.line, node.column

        def run(f):
            bs = tuple(b(f) for b in bases) or (object,)
            for b in bs:
                if not _subclassable(b):
                    raise locate(SecurityError(
                        f"a script class can derive from nn.Module (and its subclasses), "
                        f"torch.autograd.Function, object or another script class, not {b!r}"),
                        program, line, col)
            cf = Frame({}, f, is_class=True)
            r = code(cf)
            if r is not None:
                raise locate(EvalError("SyntaxError: 'return' outside function"), program,
                             line, col)
            ns = dict(cf.vars)
            for key in ns:
                # the rule holds for the class object, whatever statement bound the name
                if key[:1] == "_" and key not in CLASS_DUNDERS:
                    raise locate(SecurityError(_class_name_message(key)), program, line, col)
            ns.update(SCRIPT_CLASS_GUARDS)
            ns["__module__"] = "__main__"
            ns["__qualname__"] = name
            ns["__gradcalc_script__"] = True
            try:
                cls = types.new_class(name, bs, {}, lambda body_ns: body_ns.update(ns))
            except Exception as e:
                raise locate(e, program, line, col) from None
            for v in ns.values():
                fn = getattr(v, "__func__", v)
                if isinstance(fn, UserFunction):
                    fn.owner_class = cls
            store(f, cls)
        return run


#: the dunders a script class may define: construction and the sequence protocol (datasets)
CLASS_DUNDERS = frozenset({"__init__", "__len__", "__getitem__"})


def _class_name_message(name: str) -> str:
    return (f"defining '{name}' is not allowed: a script class may define __init__, __len__, "
            "__getitem__ and public names only")


def _refuse_array(self, *args, **kwargs):
    raise GradcalcTypeError(f"TypeError: a '{type(self).__name__}' object cannot be converted "
                            "to an array")


#: set on every script class: NumPy never reads a script object as an array or operand (it
#: asks __array__ before any other protocol, and the class rule keeps those undefinable)
SCRIPT_CLASS_GUARDS = {"__array__": _refuse_array}


def _subclassable(b) -> bool:
    if b is object:
        return True
    if not isinstance(b, type):
        return False
    if getattr(b, "__gradcalc_script__", False):
        return True
    if not _is_core_type(b):
        return False
    names = {k.__name__ for k in b.__mro__}
    return "Module" in names or "Function" in names or "Dataset" in names


def _tick(rt, program, node):
    """rt.tick() for a loop: its step-budget, timeout and memory errors are the loop's."""
    try:
        rt.tick()
    except GradcalcError as e:
        raise locate(e, program, node.line, node.column) from None


__all__ = ["Compiler", "Statement", "ParseError"]
