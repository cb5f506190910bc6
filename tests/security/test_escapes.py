# The in-process sandbox against the hostile corpus: every script is refused with its own
# message, as a GradcalcError, writes nothing, and leaves the Session usable.
import os
import re

import pytest

from gradcalc.errors import GradcalcError
from gradcalc.lang import Limits, Session

from .corpus import ALL, CASES


def test_the_corpus_is_large():
    assert len(ALL) >= 150
    assert all(len(cases) >= 7 for cases in CASES.values())


@pytest.mark.parametrize("kind, index, text, pattern", ALL,
                         ids=[f"{kind}-{i}" for kind, i, _, _ in ALL])
def test_hostile_script_is_refused(kind, index, text, pattern, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.txt").write_text("secret\n")
    out = []
    s = Session(write=out.append, limits=Limits(timeout=5))
    with pytest.raises(GradcalcError) as e:
        s.run(text, source="attack.py")
    message = str(e.value)
    assert re.search(pattern, message), message
    assert "internal error" not in message
    assert "secret" not in "".join(out)
    assert sorted(os.listdir(tmp_path)) == ["secret.txt"]
    # the session survives: it still evaluates
    assert s.evaluate("1 + 1") == 2
