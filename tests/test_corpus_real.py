# Real PyTorch programs nobody here wrote (tests/corpus/real/, each naming its source and
# commit): each runs through the installed `gradcalc run` and must print what PyTorch 2.13
# printed when it ran them (NAME.out, NAME.err, recorded by tests/corpus/record_torch.py).
# The comparison rule (exact, or numeric within float32 rounding) is tests/corpus/compare.py's;
# docs/compatibility.md has the table.
import pytest

from tests.corpus import compare

# the program texts are third-party code kept out of the repository: `pytest -m corpus`
# runs this module where they are present (docs/compatibility.md)
pytestmark = pytest.mark.corpus

#: programs that still differ from PyTorch in their recorded mode, and why
DIFFERS = {
    "micrograd_test_engine": "the sandbox's class rule (issue 9) refuses operator methods "
                             "(__add__, __repr__ ...) and _names in script classes; matches "
                             "with --trusted (test below)",
    "nlp_advanced_bilstm_crf": "the sandbox's class rule refuses its _forward_alg-style "
                               "methods; matches with --trusted (test below)",
}
#: programs that need more than the sandbox, matching PyTorch under --trusted
TRUSTED = ("micrograd_test_engine", "nlp_advanced_bilstm_crf")


def _cases():
    for name in compare.programs():
        marks = [pytest.mark.xfail(strict=True, reason=DIFFERS[name])] if name in DIFFERS else []
        yield pytest.param(name, marks=marks, id=name)


def _check_present(name):
    if not (compare.REAL / f"{name}.py").exists():
        pytest.fail(f"tests/corpus/real/{name}.py is missing from this checkout (its "
                    f"recorded output {name}.out is here): see docs/compatibility.md")


@pytest.mark.parametrize("name", list(_cases()))
def test_program_prints_what_pytorch_printed(name):
    _check_present(name)
    verdict = compare.verdict(compare.run_gradcalc(name), compare.expected(name))
    assert verdict in ("exact", "numeric"), verdict


@pytest.mark.parametrize("name", TRUSTED)
def test_programs_beyond_the_sandbox_match_in_trusted_mode(name):
    _check_present(name)
    verdict = compare.verdict(compare.run_gradcalc(name, trusted=True), compare.expected(name))
    assert verdict in ("exact", "numeric"), verdict


def test_the_corpus_is_big_enough_and_matches_on_85_percent():
    names = compare.programs()
    assert len(names) >= 40
    assert (len(names) - len(DIFFERS)) / len(names) >= 0.85
    assert set(DIFFERS) <= set(names)
