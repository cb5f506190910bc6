# The standard library a script may import: curated namespaces that behave as Python's do
# for what tutorials use, and stop at the session's limits where Python would hang in C.
import pytest

from gradcalc.errors import GradcalcError, LimitError
from gradcalc.lang import Limits, Session


def run(text, limits=None):
    out = []
    Session(write=out.append, echo=False, limits=limits).run(text)
    return "".join(out)


def test_random_is_pythons_generator_seeded_per_session():
    import random

    want = random.Random(42)
    expected = f"{want.random()!r} {want.randint(1, 6)} {want.choice('abc')}\n"
    got = run("import random\nrandom.seed(42)\n"
              "print(repr(random.random()), random.randint(1, 6), random.choice('abc'))")
    assert got == expected
    # another session's seed does not move this one's stream
    a = Session(write=lambda t: None)
    b = Session(write=lambda t: None)
    a.run("import random\nrandom.seed(1)")
    b.run("import random\nrandom.seed(2)\nrandom.random()")
    assert a.evaluate("random.random()") == random.Random(1).random()


def test_random_refuses_draws_over_the_size_limit():
    with pytest.raises(LimitError, match=r"random.choices\(\) would have 1,000,000,000 "):
        run("import random\nrandom.choices([1, 2], k=10**9)")


def test_itertools_functools_collections_copy():
    out = run(
        "import itertools, functools, collections, copy\n"
        "print(list(itertools.islice(itertools.count(5), 3)))\n"
        "print(list(itertools.product([1, 2], 'ab')))\n"
        "print(list(itertools.chain([1], [2, 3])), list(itertools.chain.from_iterable([[4], [5]])))\n"
        "print(functools.reduce(lambda a, b: a * b, [1, 2, 3, 4]))\n"
        "c = collections.Counter('abracadabra')\nprint(c.most_common(2))\n"
        "d = collections.defaultdict(list)\nd['k'].append(1)\nprint(dict(d))\n"
        "q = collections.deque([1, 2, 3], maxlen=3)\nq.append(4)\nprint(list(q), q.popleft())\n"
        "o = collections.OrderedDict(a=1, b=2)\no.move_to_end('a')\nprint(list(o))\n"
        "x = [[1], [2]]\ny = copy.deepcopy(x)\ny[0].append(9)\nprint(x, y, copy.copy(x) == x)\n")
    assert out == (
        "[5, 6, 7]\n"
        "[(1, 'a'), (1, 'b'), (2, 'a'), (2, 'b')]\n"
        "[1, 2, 3] [4, 5]\n"
        "24\n"
        "[('a', 5), ('b', 2)]\n"
        "{'k': [1]}\n"
        "[2, 3, 4] 2\n"
        "['b', 'a']\n"
        "[[1], [2]] [[1, 9], [2]] True\n")


def test_deepcopy_of_a_model_copies_its_parameters():
    out = run(
        "import copy\nimport torch.nn as nn\nm = nn.Linear(2, 1)\nt = copy.deepcopy(m)\n"
        "with torch.no_grad():\n    t.weight.fill_(0.)\n"
        "print(bool((m.weight != 0).any()), t.weight.tolist())\n")
    assert out == "True [[0.0, 0.0]]\n"


@pytest.mark.parametrize("text", [
    "import itertools\n-1 in itertools.count()",
    "import itertools\nsum(itertools.repeat(1))",
    "import itertools\nmax(itertools.cycle([1, 2]))",
    "import functools, itertools\nfunctools.reduce(lambda a, b: b, itertools.count())",
])
def test_infinite_iterators_meet_the_step_budget_instead_of_hanging(text):
    with pytest.raises(LimitError, match=r"steps|iterations|elements|timed out"):
        run(text, Limits(max_iterations=100_000, timeout=5))


def test_time_and_typing():
    out = run("import time\nfrom typing import List, Optional\nt = time.perf_counter()\n"
              "time.sleep(0.01)\nprint(time.perf_counter() - t >= 0.01, List[int])\n")
    assert out == "True typing.List[int]\n"


def test_sleep_stops_at_the_deadline():
    with pytest.raises(LimitError, match="timed out"):
        run("import time\ntime.sleep(30)", Limits(timeout=0.5))


def test_os_offers_path_arithmetic_and_an_empty_environment():
    out = run("import os\nprint(os.path.join('data', 'mnist'), os.path.basename('/a/b.txt'))\n"
              "print(os.path.splitext('m.pt'), os.environ.get('HOME', 'none'))\n"
              "print('HOME' in os.environ)\n")
    assert out == "data/mnist b.txt\n('m', '.pt') none\nFalse\n"
    for text, pattern in [("import os\nos.system('true')", "has no attribute 'system'"),
                          ("import os\nos.listdir('.')", "has no attribute 'listdir'"),
                          ("import os\nos.path.exists('/etc')", "has no attribute 'exists'"),
                          ("import os\nos.environ['HOME']", "do not see the host's environment"),
                          ("from os import remove", "cannot import name 'remove'")]:
        with pytest.raises(GradcalcError, match=pattern):
            run(text)


def test_main_guard_and_id():
    out = run("def main():\n    print('ran', id(main) == id(main))\n"
              "if __name__ == '__main__':\n    main()\n")
    assert out == "ran True\n"
