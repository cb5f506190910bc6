# The parse tables ship as plain data (JSON generated from grammar/gradcalc.lark): parsing
# reads no cache and writes nothing, the success path needs neither Lark nor NumPy, and a
# syntax error is reported by a Lark parser loaded from the shipped data, not rebuilt.
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradcalc.errors import ParseError
from gradcalc.lang import larkparser, parser

ROOT = Path(__file__).resolve().parent.parent

CODE = """\
import sys
from gradcalc.errors import ParseError
from gradcalc.lang import parse
print(parse('y = sin(x)**2 + 1').body[0].kind, 'lark' in sys.modules, 'numpy' in sys.modules)
try:
    parse('y = (1 +\\n')
except ParseError as e:
    print(e.format().splitlines()[0])
from gradcalc.lang import larkparser
print(larkparser._LARK[0].source_path)
"""


def _run(env_extra):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env_extra)
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_shipped_tables_are_current():
    generated = larkparser.generate()
    assert sorted(generated) == ["lark_tables.json", "parse_tables.json"]
    for name, text in generated.items():
        shipped = Path(parser.tables_path(name)).read_text(encoding="utf-8")
        assert shipped == text, f"{name} is stale: run python -m gradcalc.lang.larkparser"
    assert larkparser.main(["--check"]) == 0


def test_generated_tables_do_not_depend_on_the_hash_seed():
    # Lark numbers its LALR states in string-hash order; the files are numbered canonically,
    # so a regeneration anywhere gives the same bytes (and the currency check above holds)
    code = ("import hashlib; from gradcalc.lang import larkparser; "
            "print(*(hashlib.sha256(t.encode()).hexdigest() "
            "for _, t in sorted(larkparser.generate().items())))")
    mine = [hashlib.sha256(t.encode()).hexdigest()
            for _, t in sorted(larkparser.generate().items())]
    seed = "4242" if os.environ.get("PYTHONHASHSEED") != "4242" else "17"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED=seed),
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == mine


@pytest.mark.parametrize("cache", ["fresh", "unwritable"])
def test_parsing_reads_and_writes_no_cache(tmp_path, cache):
    home = tmp_path / "home"
    home.mkdir()
    xdg = str(tmp_path / "xdg") if cache == "fresh" else "/dev/null/not-a-directory"
    result = _run({"HOME": str(home), "XDG_CACHE_HOME": xdg})
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.splitlines() == [
        "assign False False",  # the lean driver: no Lark, no NumPy
        "<input>:1:9: unclosed '(' opened at 1:5",
        "<deserialized>",  # Lark's parser came from the shipped data, it was not rebuilt
    ]
    assert sorted(os.listdir(tmp_path)) == ["home"] and os.listdir(home) == []  # nothing written


def test_stale_tables_are_not_used(monkeypatch):
    grammar = parser.grammar_text()
    assert parser._load_tables(grammar)["grammar"] == grammar
    edited = grammar + "\n// edited, tables not regenerated\n"
    assert parser._load_tables(edited) is None
    monkeypatch.setattr(parser, "grammar_text", lambda: edited)
    monkeypatch.setattr(parser, "_LEAN", [None, False])
    monkeypatch.setattr(larkparser, "_LARK", [None])
    assert larkparser.load() is None  # the shipped Lark data is another grammar's too
    assert parser.parse("y = x + 1").body[0].kind == "assign"
    assert parser._lean() is not None  # exported in memory from a Lark built from the text
    assert larkparser._LARK[0].source_path != "<deserialized>"


def test_a_table_file_of_another_format_is_not_used(monkeypatch, tmp_path):
    data = json.loads(Path(parser.tables_path(parser.TABLES)).read_text(encoding="utf-8"))
    data["format"] = parser.FORMAT - 1
    (tmp_path / parser.TABLES).write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(parser, "tables_path", lambda name: str(tmp_path / name))
    assert parser._load_tables(parser.grammar_text()) is None
    (tmp_path / parser.TABLES).write_text("{not json", encoding="utf-8")
    assert parser._load_tables(parser.grammar_text()) is None


def test_lark_data_of_another_format_or_lark_release_is_not_used(monkeypatch, tmp_path):
    import lark

    assert larkparser.load() is not None
    shipped = Path(parser.tables_path(larkparser.LARK_TABLES)).read_text(encoding="utf-8")
    major, minor, *_ = lark.__version__.split(".")
    monkeypatch.setattr(parser, "tables_path", lambda name: str(tmp_path / name))
    for key, value, used in (("lark", f"{major}.{minor}.999", True),  # a patch release: same form
                             ("lark", f"{major}.{int(minor) + 1}.0", False),
                             ("format", parser.FORMAT - 1, False)):
        data = json.loads(shipped)
        data[key] = value
        (tmp_path / larkparser.LARK_TABLES).write_text(json.dumps(data), encoding="utf-8")
        assert (larkparser.load() is not None) == used, (key, value)


BAD = ["1 +", "x = (1,\n2]", "f(a b)", "if x:\ny", "x = $", "def f(:\n", "x.if",
       "'unterminated", "f'{'", "lambda: ", "a ->", "x = [1, 2)", ")",
       "if x:\n    y\n  z\n", "for in x:\n", "class:", "import", "x +=", "1if x else 2 else"]


@pytest.fixture(scope="module")
def larks():
    loaded = larkparser.load()
    assert loaded is not None and loaded.source_path == "<deserialized>"
    return loaded, larkparser.build()


@pytest.mark.parametrize("text", BAD)
def test_shipped_lark_data_reports_errors_as_a_fresh_lark_does(text, larks, monkeypatch):
    found = []
    for lark_ in larks:
        monkeypatch.setattr(larkparser, "_LARK", [lark_])
        monkeypatch.setattr(larkparser, "_NAMES", [None])
        with pytest.raises(ParseError) as info:
            larkparser.parse(parser._prepare(text), "<t>", "file_input")
        e = info.value
        found.append((type(e).__name__, e.message, e.line, e.column))
    assert found[0] == found[1]
