# Small gaps real PyTorch programs meet (issue 11, section 3), each against PyTorch 2.13's own
# behaviour, through the real Session (the sandbox) unless the test says otherwise.
import pytest

import gradcalc as torch
from gradcalc.errors import GradcalcError
from gradcalc.lang import Session


def run(text):
    out = []
    Session(write=out.append, echo=False).run(text)
    return "".join(out)


def test_type_with_legacy_classes_strings_and_dtypes():
    out = run("t = torch.ones(2)\n"
              "print(t.type(torch.FloatTensor) is t, t.type(torch.DoubleTensor).dtype)\n"
              "print(t.type('torch.LongTensor'), t.type(torch.float64).dtype, t.type())\n"
              "print(torch.ones(1, dtype=torch.long).type())\n")
    assert out == ("True torch.float64\ntensor([1, 1]) torch.float64 torch.FloatTensor\n"
                   "torch.LongTensor\n")
    with pytest.raises(GradcalcError, match=r"invalid type: 'float'"):
        run("torch.ones(2).type('float')")


def test_classes_print_as_pytorchs():
    out = run("print(type(torch.ones(1)), torch.Size, type(torch.ones(1).shape))\n"
              "print(type(torch.nn.Parameter(torch.ones(1))), torch.Tensor)\n")
    assert out == ("<class 'torch.Tensor'> <class 'torch.Size'> <class 'torch.Size'>\n"
                   "<class 'torch.nn.parameter.Parameter'> <class 'torch.Tensor'>\n")
    assert repr(torch.Tensor) == "<class 'torch.Tensor'>"


def test_shuffled_loader_of_an_empty_dataset_is_refused_at_once():
    class Empty(torch.utils.data.Dataset):
        def __len__(self):
            return 0

    with pytest.raises(GradcalcError, match=r"^num_samples should be a positive integer value, "
                                            r"but got num_samples=0$"):
        torch.utils.data.DataLoader(Empty(), batch_size=4, shuffle=True)
    assert list(torch.utils.data.DataLoader(Empty(), batch_size=4)) == []
