# API and CLI layers, plots: samples of f and its derivatives by gradcalc's autograd (against
# analytic derivatives, and where finite differences would differ), the elementwise checks, the
# terminal chart on a pipe and "on a terminal", the JSON table, SVG/PNG/PDF files, the contour
# map of two inputs with a --path, the missing extras, and the REPL's :plot — through the real
# `gradcalc` command (subprocess) and cli.main.
import json
import math
import os
import re
import struct
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from gradcalc import cli, lang, plotting

ROOT = Path(__file__).resolve().parents[1]
PLAIN = {"NO_COLOR": "1", "TTY_COMPATIBLE": "", "FORCE_COLOR": "", "COLUMNS": "80",
         "LINES": "24"}
SVG = "{http://www.w3.org/2000/svg}"


def gradcalc_cmd() -> list[str]:
    script = Path(sys.executable).with_name("gradcalc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gradcalc"]


def run(*args, env=None, cwd=None):
    """The real command in a fresh process: (exit code, stdout bytes, stderr text)."""
    full = {**os.environ, **PLAIN, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join(p for p in (full.get("PYTHONPATH", ""), str(ROOT)) if p)
    proc = subprocess.run(gradcalc_cmd() + list(args), check=False, capture_output=True, env=full,
                          cwd=cwd,
                          stdin=subprocess.DEVNULL, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr.decode()


def main(capsys, monkeypatch, *args, env=None):
    """cli.main in this process: (exit code, stdout, stderr)."""
    for k, v in {**PLAIN, **(env or {})}.items():
        monkeypatch.setenv(k, v)
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def table(capsys, monkeypatch, *args):
    code, out, err = main(capsys, monkeypatch, "plot", *args, "--json")
    assert code == 0, err
    return json.loads(out)


# ---- samples: values and derivatives --------------------------------------------------------

def test_cubic_table_is_exact_with_its_critical_points(capsys, monkeypatch):
    obj = table(capsys, monkeypatch, "x**3 - 3*x", "--over", "x=-2:2", "--points", "5",
                "--order", "2")
    x = np.linspace(-2, 2, 5)
    assert obj["expression"] == "x**3 - 3*x" and obj["points"] == 5
    assert obj["over"] == {"x": [-2.0, 2.0]} and obj["dtype"] == "float32"
    assert list(obj["table"]) == ["x", "f", "f'", "f''"]
    assert obj["table"]["x"] == x.tolist()
    assert obj["table"]["f"] == (x**3 - 3 * x).tolist()
    assert obj["table"]["f'"] == (3 * x**2 - 3).tolist()
    assert obj["table"]["f''"] == (6 * x).tolist()
    assert obj["critical"] == [{"x": -1.0, "f": 2.0, "kind": "max"},
                               {"x": 1.0, "f": -2.0, "kind": "min"}]


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_derivatives_match_the_analytic_ones_in_float64(capsys, monkeypatch, order):
    obj = table(capsys, monkeypatch, "sin(x)*exp(-x**2/4)", "--over", "x=-3:3", "--points",
                "101", "--order", str(order), "--dtype", "float64")
    x = np.linspace(-3, 3, 101)
    s, c, e = np.sin(x), np.cos(x), np.exp(-x**2 / 4)  # (u e)' = (u' - x u / 2) e
    g = -3 * s / 2 - x * c + x**2 * s / 4
    exact = [s * e, (c - x * s / 2) * e, g * e,
             (-5 * c / 2 + 3 * x * s / 2 + x**2 * c / 4 - x * g / 2) * e]
    keys = ["f", "f'", "f''", "f'''"][: order + 1]
    assert list(obj["table"]) == ["x", *keys]
    for key, want in zip(keys, exact):
        np.testing.assert_allclose(obj["table"][key], want, rtol=1e-12, atol=1e-12)
    assert obj["dtype"] == "float64"


def test_derivatives_are_autograd_not_finite_differences(capsys, monkeypatch):
    # relu'(0) is 0 (PyTorch's choice); a central difference on this grid would give 0.5
    obj = table(capsys, monkeypatch, "relu(x)", "--over", "x=-1:1", "--points", "3")
    assert obj["table"]["f'"] == [0.0, 0.0, 1.0]
    # two samples of x**3: the slope between them is 1, the derivative at each is 3
    obj = table(capsys, monkeypatch, "x**3", "--over", "x=-1:1", "--points", "2")
    assert obj["table"]["f'"] == [3.0, 3.0]


def test_other_inputs_come_from_at_and_bounds_may_be_expressions(capsys, monkeypatch):
    obj = table(capsys, monkeypatch, "a*x**2 + b", "--over", "x=-pi:pi", "--at", "a=3,b=1",
                "--points", "3")
    assert obj["table"]["x"] == pytest.approx([-math.pi, 0.0, math.pi], abs=1e-6)
    assert obj["table"]["f'"] == pytest.approx([-6 * math.pi, 0.0, 6 * math.pi], rel=1e-6)
    assert obj["critical"] == [{"x": 0.0, "f": 1.0, "kind": "min"}]


def test_several_statements_and_a_constant(capsys, monkeypatch):
    obj = table(capsys, monkeypatch, "u = 2*x; u**2", "--over", "x=0:1", "--points", "3")
    assert obj["table"]["f'"] == [0.0, 4.0, 8.0]
    obj = table(capsys, monkeypatch, "7", "--over", "x=0:1", "--points", "3", "--order", "2")
    assert obj["table"]["f"] == [7.0] * 3 and obj["table"]["f''"] == [0.0] * 3
    assert obj["critical"] == []  # f′ = 0 everywhere: no isolated zero


def test_nan_is_a_string_in_the_table(capsys, monkeypatch):
    obj = table(capsys, monkeypatch, "log(x)", "--over", "x=-1:1", "--points", "3")
    assert obj["table"]["f"][:2] == ["nan", "-inf"]
    assert obj["table"]["f'"][1] == "inf"


def test_critical_points_between_samples_are_interpolated():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    crit = plotting.critical_points(x, np.array([0.0, 1.0, 1.0, 0.0]),
                                    np.array([2.0, 1.0, -1.0, -3.0]))
    assert [(c.x, c.f, c.kind) for c in crit] == [(1.5, 1.0, "max")]


def test_sample_takes_a_python_function():
    import gradcalc

    curve = plotting.sample(lambda x: gradcalc.sigmoid(x), [plotting.Axis("x", -1.0, 1.0)],
                            points=3, order=2, dtype=gradcalc.float64)
    sig = 1 / (1 + np.exp(-np.array([-1.0, 0.0, 1.0])))
    np.testing.assert_allclose(curve.values[1], sig * (1 - sig), rtol=1e-12)
    np.testing.assert_allclose(curve.values[2], sig * (1 - sig) * (1 - 2 * sig), rtol=1e-12)
    assert curve.names == ("f", "f′", "f″") and curve.order == 2


def test_two_inputs_give_the_gradient_field(capsys, monkeypatch):
    obj = table(capsys, monkeypatch, "x**2 + 3*x*y", "--over", "x=-1:1,y=0:2", "--points", "3")
    assert obj["points"] == [3, 3] and obj["grid"] == {"x": [-1.0, 0.0, 1.0], "y": [0.0, 1.0, 2.0]}
    gx, gy = np.meshgrid([-1.0, 0.0, 1.0], [0.0, 1.0, 2.0])
    assert obj["f"] == (gx**2 + 3 * gx * gy).tolist()
    assert obj["df/dx"] == (2 * gx + 3 * gy).tolist()
    assert obj["df/dy"] == (3 * gx).tolist()


def test_the_sweep_leaves_the_session_names_as_they_were():
    import gradcalc

    s = lang.Session()
    s.namespace["x"] = keep = gradcalc.tensor(5.0)
    curve = plotting.plot_expression(s, "q = x*2; q", "x=0:1", points=2)
    assert curve.values[1].tolist() == [2.0, 2.0]
    assert s.namespace["x"] is keep and "q" not in s.namespace


# ---- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, code, message", [
    (["x.cumsum(0)", "--over", "x=0:1"], 1,
     ("<expr>: f is not elementwise in x: the derivative at one point depends on other points "
     "(a sum, mean, cumsum, sort or indexing across the sweep?)")),
    (["x.sum()", "--over", "x=0:1", "--points", "4"], 1,
     "<expr>: f is not elementwise in x: 4 points gave shape () (expected (4,), one value per point)"),
    (["x - x.detach().mean()", "--over", "x=-1:1"], 1,
     ("<expr>: f is not elementwise in x: its value at a point depends on the other points of the sweep "
     "(or on random numbers)")),
    (["stack([x, y])", "--over", "x=0:1,y=0:1", "--points", "5"], 1,
     ("<expr>: f must give one number per point (x, y): on a 5x5 grid it gave shape (2, 5, 5) (a plot of "
     "two inputs needs a scalar f)")),
    (["x", "--over", "x=3:3"], 2,
     "gradcalc: error: --over: the range x=3:3 has no points (A must be less than B)"),
    (["x", "--over", "x=1:0"], 2,
     "gradcalc: error: --over: the range x=1:0 has no points (A must be less than B)"),
    (["x", "--over", "x=0:1", "--points", "1"], 2,
     "gradcalc: error: --points: a range needs at least 2 points, got 1"),
    (["x", "--over", "x=0"], 2, "gradcalc: error: --over: expected NAME=A:B, got 'x=0'"),
    (["x", "--over", "x=0:inf"], 2, "gradcalc: error: --over: x: the bound 'inf' is not finite"),
    (["x", "--over", "x=0:q"], 1, "--over x:1:1: name 'q' is not defined; did you mean 'eq'?"),
    (["x"], 2, "gradcalc: error: plot: give the swept input and its range, as in --over x=-3:3"),
    (["x*y", "--over", "x=0:1", "--at", "x=1"], 2,
     "gradcalc: error: --over: x is also bound with --at; sweep it or bind it"),
    (["x*y", "--over", "x=0:1,y=0:1", "--order", "2"], 2,
     "gradcalc: error: --order: a plot of two inputs shows f and its gradient (no --order)"),
    (["x*y", "--over", "x=0:1,y=0:1"], 2,
     ("gradcalc: error: plot: a plot of two inputs is a picture: give --output FILE.svg|png|pdf "
     "(or --json for the sampled grid)")),
    (["x", "--over", "x=0:1", "--path", "p.gc"], 2,
     "gradcalc: error: --path overlays a path on a plot of two inputs (--over x=A:B,y=C:D)"),
    (["x", "--over", "x=0:1", "--output", "f.gif"], 2,
     "gradcalc: error: --output: expected a .svg, .png or .pdf file, got 'f.gif'"),
    (["[1, 2]", "--over", "x=0:1"], 1, "<expr>: f must be a number or a tensor, got list"),
    (["x", "--over", "x=0:1", "--points", "10000", "--max-elements", "100"], 1,
     "the grid would have 10,000 points, over the limit of 100 (raise it with --max-elements N)"),
])
def test_errors_are_one_clear_line(capsys, monkeypatch, args, code, message):
    got, out, err = main(capsys, monkeypatch, "plot", *args)
    assert (got, out) == (code, "")
    assert err.splitlines()[0] == message
    assert "Traceback" not in err


def test_order_out_of_range_is_a_usage_error(capsys, monkeypatch):
    code, _out, err = main(capsys, monkeypatch, "plot", "x", "--over", "x=0:1", "--order", "4")
    assert code == 2 and "expected 0 to 3, got 4" in err


def _hide(tmp_path: Path, module: str) -> str:
    """A directory whose `module` fails to import, as when the package is not installed."""
    d = tmp_path / f"no_{module}"
    (d / module).mkdir(parents=True)
    (d / module / "__init__.py").write_text(f'raise ImportError("No module named {module}")\n')
    return str(d)


def test_a_file_without_matplotlib_names_the_extra(tmp_path):
    env = {"PYTHONPATH": _hide(tmp_path, "matplotlib")}
    code, out, err = run("plot", "x**2", "--over", "x=0:1", "--output", str(tmp_path / "f.svg"),
                         env=env)
    assert (code, out) == (2, b"")
    assert err == "gradcalc: error: plotting to files needs `pip install 'gradcalc[plot]'`\n"
    assert not (tmp_path / "f.svg").exists()


def test_the_chart_without_plotext_falls_back_to_the_table(tmp_path):
    code, out, err = run("plot", "x**2", "--over", "x=0:1", "--points", "3",
                         env={"PYTHONPATH": _hide(tmp_path, "plotext")})
    assert code == 0
    assert err == ("gradcalc: note: a terminal chart needs `pip install 'gradcalc[plot]'`; "
                   "showing the sampled table\n")
    assert out.decode().splitlines() == ["  x     f  f'", "  0     0   0", "0.5  0.25   1",
                                         "  1     1   2"]


# ---- the terminal chart -------------------------------------------------------------------------

def test_chart_on_a_pipe_is_plain_and_fills_the_width():
    code, out, err = run("plot", "x**3 - 3*x", "--over", "x=-2:2", "--order", "2",
                         env={"COLUMNS": "72", "LINES": "20"})
    text = out.decode()
    assert code == 0 and err == ""
    assert "\x1b" not in text
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == 18  # LINES - 2: the prompt stays visible
    assert max(len(line.rstrip()) for line in lines) == 72
    assert "x**3 - 3*x   (x=-2:2, 200 points)" in lines[0]
    legend = " ".join(lines[2:7])
    for mark, name in (("⢕⢕", "f"), ("••", "f′"), ("··", "f″"), ("◆◆", "f′ = 0")):
        assert f"{mark} {name}" in legend
    assert re.search(r"^\s*-2\s+-1\s+0\s+1\s+2\s*$", lines[-2])  # x ticks
    assert lines[-1].strip() == "x"


def test_chart_on_a_terminal_is_coloured():
    code, out, _err = run("plot", "sin(x)", "--over", "x=-3:3", env={"FORCE_COLOR": "1",
                                                                    "NO_COLOR": ""})
    text = out.decode()
    assert code == 0
    assert "\x1b[38;5;4m" in text and "\x1b[38;5;1m" in text  # f blue, f′ red
    assert "--plain" not in text


def test_plain_overrides_a_terminal(capsys, monkeypatch):
    code, out, _err = main(capsys, monkeypatch, "plot", "sin(x)", "--over", "x=-3:3", "--plain",
                          env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert code == 0 and "\x1b" not in out and "sin(x)   (x=-3:3, 200 points)" in out


# ---- pictures -------------------------------------------------------------------------------------

def svg_ids(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return [e.get("id") for e in root.iter() if e.get("id")]


def svg_text(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("order", [0, 1, 2])
def test_svg_plot_has_the_title_the_curves_and_the_marked_zeros(tmp_path, capsys, monkeypatch,
                                                                order):
    out = tmp_path / "f.svg"
    code, stdout, err = main(capsys, monkeypatch, "plot", "x**3 - 3*x", "--over", "x=-2.5:2.5",
                             "--order", str(order), "--output", str(out))
    assert (code, stdout, err) == (0, "", "")
    ids = svg_ids(out)
    assert [i for i in ids if i.startswith("curve-")] == \
        ["curve-f", "curve-df", "curve-d2f"][: order + 1]
    texts = svg_text(out)
    assert "x**3 - 3*x" in texts  # the title
    assert [t for t in texts if t in ("f", "f′", "f″", "f′ = 0")] == \
        ["f", "f′", "f″"][: order + 1] + (["f′ = 0"] if order else [])
    assert ("critical" in ids) == (order >= 1)
    if order:
        assert "max x=-1" in texts and "min x=1" in texts


def test_png_and_pdf_plots(tmp_path, capsys, monkeypatch):
    for name in ("f.png", "f.pdf"):
        code, _, err = main(capsys, monkeypatch, "plot", "tanh(x)", "--over", "x=-2:2",
                            "--output", str(tmp_path / name))
        assert code == 0, err
    png = (tmp_path / "f.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (792, 495)  # 7.2 x 4.5 in at 110 dpi
    pdf = (tmp_path / "f.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")


def test_pictures_are_the_same_on_every_run(tmp_path):
    for k in (1, 2):
        code, _, err = run("plot", "sin(x)", "--over", "x=0:3", "--output", str(tmp_path / f"{k}.svg"))
        assert code == 0, err
    first, second = (tmp_path / "1.svg").read_bytes(), (tmp_path / "2.svg").read_bytes()
    assert first == second
    assert b"<dc:date>" not in first


def test_contour_of_two_inputs_with_a_descent_path(tmp_path):
    script = tmp_path / "gd.gc"
    script.write_text(
        "p = tensor([1.5, 1.5], requires_grad=True)\n"
        "opt = torch.optim.SGD([p], lr=0.1)\n"
        "path = [p.tolist()]\n"
        "for i in range(10):\n"
        "    opt.zero_grad()\n"
        "    loss = p[0]**2 + 3*p[1]**2\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        "    path.append(p.tolist())\n"
        "path\n")
    out = tmp_path / "bowl.svg"
    code, _stdout, err = run("plot", "x**2 + 3*y**2", "--over", "x=-2:2,y=-2:2", "--output",
                            str(out), "--path", str(script))
    assert (code, err) == (0, "")
    ids = svg_ids(out)
    for gid in ("contour", "contour-lines", "gradient", "path"):
        assert gid in ids
    texts = svg_text(out)
    assert "x**2 + 3*y**2   (arrows: ∇f)" in texts and "path (11 points)" in texts
    assert "x" in texts and "y" in texts  # axis labels


def test_path_errors(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.gc"
    bad.write_text("p = 1\n")
    code, _, err = main(capsys, monkeypatch, "plot", "x*y", "--over", "x=0:1,y=0:1", "--output",
                        str(tmp_path / "a.svg"), "--path", str(bad))
    assert code == 2
    assert err.strip() == (f"gradcalc: error: --path: {bad} must end with an expression giving "
                           "the points, as in a last line `path`")
    bad.write_text("[1, 2, 3]\n")
    code, _, err = main(capsys, monkeypatch, "plot", "x*y", "--over", "x=0:1,y=0:1", "--output",
                        str(tmp_path / "a.svg"), "--path", str(bad))
    assert code == 2 and "--path: the script's last value must be a list of (x, y) points" in err
    code, _, err = main(capsys, monkeypatch, "plot", "x*y", "--over", "x=0:1,y=0:1", "--output",
                        str(tmp_path / "a.svg"), "--path", str(tmp_path / "none.gc"))
    assert code == 2 and "cannot read" in err and "No such file or directory" in err


def test_unwritable_output_is_a_usage_error(tmp_path, capsys, monkeypatch):
    code, _, err = main(capsys, monkeypatch, "plot", "x", "--over", "x=0:1", "--output",
                        str(tmp_path / "missing" / "f.svg"))
    assert code == 2 and err.startswith("gradcalc: error: cannot write ")


# ---- the REPL ---------------------------------------------------------------------------------------

ENTER, CTRL_D = "\r", "\x04"


def drive(keys, tmp_path, capsys, monkeypatch, gap=0.06):
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from gradcalc import repl

    for k, v in PLAIN.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    opts = {**cli.defaults("repl"), "history_file": str(tmp_path / "history")}
    with create_pipe_input() as inp:
        done = threading.Event()

        def feed():
            for k in keys:
                time.sleep(gap)
                inp.send_text(k)
            if not done.wait(20):
                inp.send_text("\x03" + CTRL_D)

        t = threading.Thread(target=feed, daemon=True)
        t.start()
        code = repl.run_repl(opts, input=inp, output=DummyOutput())
        done.set()
        t.join(5)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_repl_plot_uses_the_session_names(tmp_path, capsys, monkeypatch):
    keys = ["def f(t):", ENTER, "return t**3 - 3*t", ENTER, ENTER,
            "x = 5", ENTER,
            ":plot f(x) over x=-2:2 --order 2", ENTER,
            "x", ENTER,
            ":plot f(x) + y over x=-2:2,y=0:1 --output bowl.svg", ENTER,
            ":plot x.sum() over x=0:1", ENTER,
            ":plot f(x)", ENTER,
            "w = tensor(2., requires_grad=True)", ENTER, "z = f(w) * w", ENTER,
            ":graph z --output z.svg", ENTER,
            ":help", ENTER,
            CTRL_D]
    code, out, err = drive(keys, tmp_path, capsys, monkeypatch)
    assert code == 0
    assert "f(x)   (x=-2:2, 200 points)" in out and "◆◆ f′ = 0" in out and "·· f″" in out
    assert "\n5\n" in out  # x is 5 again after the sweep
    assert "wrote bowl.svg" in out and "contour" in svg_ids(tmp_path / "bowl.svg")
    assert ("f is not elementwise in x: 200 points gave shape () (expected (200,), one value "
            "per point)") in err
    assert "expected :plot EXPR over x=A:B (or x=A:B,y=C:D), as in :plot sin(x) over x=-3:3" in err
    assert "wrote z.svg" in out
    nodes = [i for i in svg_ids(tmp_path / "z.svg") if i.startswith("node-")]
    # z = (w**3 - 3*w) * w: Mul, Sub, Pow, w's AccumulateGrad, Mul (w drawn once)
    assert sorted(nodes) == ["node-0-result", "node-1-op", "node-2-op", "node-3-leaf",
                             "node-4-op"]
    assert "z" in svg_text(tmp_path / "z.svg") and "w" in svg_text(tmp_path / "z.svg")
    assert ":plot EXPR over x=A:B   a chart of EXPR and its derivative" in out
    ours = [line for line in out.split(":help")[-1].splitlines()
            if line.startswith((":plot", ":graph", " " * 15))]
    assert len(ours) == 4 and all(len(line) <= 80 for line in ours)


def test_long_curves_are_thinned_for_drawing_keeping_peaks_and_gaps():
    from gradcalc.render.plot import thin

    x = np.arange(10_000.0)
    y = np.sin(x / 100)
    y[5003], y[7001] = 50.0, np.nan
    tx, ty = thin(x, y, 400)
    assert 400 <= len(tx) <= 401 and (np.diff(tx) > 0).all()
    assert ty[tx == 5003] == [50.0] and np.isnan(ty[tx == 7001]).all()
    assert set(tx) <= set(x) and np.array_equal(ty[~np.isnan(ty)], y[tx.astype(int)][~np.isnan(ty)])
    xs, ys = x[:400], y[:400]
    tx, ty = thin(xs, ys, 400)
    assert tx is xs and ty is ys  # short enough: the very same arrays


@pytest.mark.parametrize("argv", [
    ["plot", "sin(x)", "--over", "x=-3:3"],
    ["plot", "a*x", "--over=x=0:1", "-a", "a=2", "--order", "2", "-n", "50", "--json"],
    ["plot", "x*y", "--over", "x=0:1,y=0:1", "-o", "f.svg", "--path", "p.gc", "--plain"],
    ["graph", "x*2", "--at", "x=1", "--format", "svg", "--output", "g.svg"],
    ["run", "s.gc", "--allow-files", "out"],
], ids=" ".join)
def test_fast_path_parses_plot_options_like_typer(argv, monkeypatch):
    from typer.testing import CliRunner

    fast = cli.fast_parse(argv)
    assert fast is not None
    seen = []
    monkeypatch.setattr(cli, "execute", lambda cmd, opts: seen.append((cmd, opts)) or 0)
    result = CliRunner().invoke(cli.build_app(), argv)
    assert result.exit_code == 0, result.output
    assert seen == [fast]
