"""nn layer: RNN, LSTM, GRU and their cells (torch/nn/modules/rnn.py), computed as PyTorch's
CPU kernels compose them (aten/src/ATen/native/RNN.cpp): the input projection of a whole
sequence in one linear, one cell per step, stacked outputs; parameters named, shaped,
initialised and drawn in PyTorch's order."""

from __future__ import annotations

import math
import numbers
import warnings

from ...core import autograd as _ag
from ...core.autograd import Node
from ...core.graph import record
from ...core.shape import TransposeBackward0, cat, stack
from ...core.tensor import _make
from ...errors import GradcalcTypeError, GradcalcValueError, TorchRuntimeError
from .. import functional as F
from .. import init
from .._ops import empty, zeros
from ..parameter import Parameter
from .module import Module

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]


# --- cells (ATen's SimpleCell, LSTMCell, GRUCell) ----------------------------------------------


def _lin(x, w, b):
    return F.linear(x, w, b)


def _simple_cell(act):
    def cell(x, h, p, pre):
        w_ih, w_hh, b_ih, b_hh = p[:4]
        return act(_lin(h, w_hh, b_hh) + (x if pre else _lin(x, w_ih, b_ih)))

    return cell


def _lstm_cell(x, hidden, p, pre):
    w_ih, w_hh, b_ih, b_hh, w_hr = p
    hx, cx = hidden
    gates = _lin(hx, w_hh, b_hh) + (x if pre else _lin(x, w_ih, b_ih))
    i, f, g, o = gates.unsafe_chunk(4, 1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    cy = f * cx + i * g
    hy = o * cy.tanh()
    if w_hr is not None:
        hy = hy.matmul(w_hr.t())
    return hy, cy


def _gru_cell(x, h, p, pre):
    w_ih, w_hh, b_ih, b_hh = p[:4]
    ig = (x if pre else _lin(x, w_ih, b_ih)).unsafe_chunk(3, 1)
    hg = _lin(h, w_hh, b_hh).unsafe_chunk(3, 1)
    r = (hg[0] + ig[0]).sigmoid()
    z = (hg[1] + ig[1]).sigmoid()
    n = (ig[2] + hg[2] * r).tanh()
    return (h - n) * z + n


_CELLS = {"RNN_TANH": _simple_cell(lambda t: t.tanh()),
          "RNN_RELU": _simple_cell(lambda t: t.relu()),
          "LSTM": _lstm_cell, "GRU": _gru_cell}


def _out_of(hidden):
    return hidden[0] if isinstance(hidden, tuple) else hidden


def _layer(cell, steps, hidden, p):
    outs = []
    for x in steps:
        hidden = cell(x, hidden, p, True)
        outs.append(_out_of(hidden))
    if not outs:
        raise TorchRuntimeError("Expected sequence length to be larger than 0 in RNN")
    return outs, hidden


class MkldnnRnnLayerBackward0(Node):
    """The node PyTorch's CPU LSTM layer records (it runs float32 LSTMs through oneDNN): here
    the name over the composite layer below it, passing the gradient through."""

    __slots__ = ()
    formula = ("grad",)

    def apply(self, g):
        return (g,)

    _frees = False


def _as_onednn_layer(t):
    """`t` as the output of PyTorch's oneDNN LSTM layer (its grad_fn name)."""
    r = _make(t._data, t)
    if _ag._enabled and t._requires_grad:
        record(r, MkldnnRnnLayerBackward0, (t,))
    return r


class TransposeBackward1(TransposeBackward0):
    """transpose_ (in place): how PyTorch's composite RNN returns a batch_first output."""

    __slots__ = ()


def _batch_first(out, onednn):
    """The (T, B, H) output as (B, T, H), recorded as PyTorch records it."""
    if onednn:
        return out.transpose(0, 1)
    r = _make(out._data.swapaxes(0, 1), out)
    if _ag._enabled and out._requires_grad:
        record(r, TransposeBackward1, (out,), (0, 1))
    return r


def _onednn(mode, input, params) -> bool:
    # PyTorch 2.13 runs a float32 LSTM without projections through oneDNN, one node per layer
    return mode == "LSTM" and input.dtype.name == "float32" and params[0][4] is None


def _run(mode, input, hiddens, params, num_layers, dropout, train, bidirectional):
    """apply_layer_stack over (T, B, I) input: the last layer's output and each final hidden."""
    cell = _CELLS[mode]
    dirs = 2 if bidirectional else 1
    onednn = _onednn(mode, input, params)
    finals = []
    x = input
    for layer in range(num_layers):
        outputs = []
        for d in range(dirs):
            k = layer * dirs + d
            p = params[k]
            steps = _lin(x, p[0], p[2]).unbind(0)  # the whole sequence's input projection
            if d == 1:
                steps = steps[::-1]
            outs, h = _layer(cell, steps, hiddens[k], p)
            if d == 1:
                outs = outs[::-1]
            out = stack(outs, 0)
            outputs.append(_as_onednn_layer(out) if onednn else out)
            finals.append(h)
        x = outputs[0] if dirs == 1 else cat(outputs, outputs[0].dim() - 1)
        if dropout != 0 and train and layer < num_layers - 1:
            x = F.dropout(x, dropout, True)
    return x, finals


# --- the sequence modules ----------------------------------------------------------------------


class RNNBase(Module):
    """What RNN, LSTM and GRU share: arguments, parameters in PyTorch's order, checks."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise GradcalcValueError("dropout should be a number in range [0, 1] representing "
                                     "the probability of an element being zeroed")
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}", UserWarning, stacklevel=3)
        for name, v in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(v, bool):
                raise GradcalcTypeError(f"{name} should be of type bool, got: {type(v).__name__}")
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int):
                raise GradcalcTypeError(f"{name} should be of type int, got: {type(v).__name__}")
            if v <= 0:
                raise GradcalcValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise GradcalcValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise GradcalcValueError(
                "proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise GradcalcValueError("proj_size has to be smaller than hidden_size")
        gate_size = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}.get(mode)
        if gate_size is None:
            raise GradcalcValueError("Unrecognized RNN mode: " + mode)
        gate_size *= hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        real_hidden = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                params = [Parameter(empty((gate_size, layer_input), dtype=dtype, device=device)),
                          Parameter(empty((gate_size, real_hidden), dtype=dtype, device=device))]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    params += [Parameter(empty((gate_size,), dtype=dtype, device=device)),
                               Parameter(empty((gate_size,), dtype=dtype, device=device))]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    params.append(Parameter(empty((proj_size, hidden_size), dtype=dtype,
                                                  device=device)))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for name, param in zip(names, params):
                    setattr(self, name, param)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op on the CPU (PyTorch packs weights for cuDNN here)."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _cell_params(self) -> list:
        out = []
        for names in self._all_weights:
            ps = {n.split("_l")[0]: getattr(self, n) for n in names}
            out.append((ps["weight_ih"], ps["weight_hh"], ps.get("bias_ih"), ps.get("bias_hh"),
                        ps.get("weight_hr")))
        return out

    def check_input(self, input, batch_sizes=None) -> None:
        w = self._flat_weights[0]
        if input.dtype != w.dtype:
            raise GradcalcValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({w.dtype}). "
                f"Convert input: input.to({w.dtype}), or convert model: model.to({input.dtype})")
        if input.dim() != 3:
            raise TorchRuntimeError(f"input must have 3 dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise TorchRuntimeError(
                "input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes=None) -> tuple:
        mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, size)

    def check_hidden_size(self, hx, expected, msg="Expected hidden size {}, got {}") -> None:
        if tuple(hx.size()) != tuple(expected):
            raise TorchRuntimeError(msg.format(tuple(expected), list(hx.size())))

    def check_forward_args(self, input, hidden, batch_sizes=None) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def _prepare(self, input, kind):
        if input.dim() not in (2, 3):
            tail = " tensor instead" if kind == "RNN" else " instead"
            raise GradcalcValueError(
                f"{kind}: Expected input to be 2D or 3D, got {input.dim()}D{tail}")
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = input.unsqueeze(batch_dim)
        return input, batched, batch_dim

    def _zeros(self, input, size):
        batch = input.size(0) if self.batch_first else input.size(1)
        dirs = 2 if self.bidirectional else 1
        return zeros((self.num_layers * dirs, batch, size), dtype=input.dtype,
                     device=input.device)

    def _forward(self, input, hiddens):
        x = input.transpose(0, 1) if self.batch_first else input
        params = self._cell_params()
        out, finals = _run(self.mode, x, hiddens, params, self.num_layers, self.dropout,
                           self.training, self.bidirectional)
        if self.batch_first:
            out = _batch_first(out, _onednn(self.mode, x, params))
        return out, finals

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)


class _OneHidden(RNNBase):
    """RNN and GRU: one hidden state tensor."""

    _kind = "RNN"

    def forward(self, input, hx=None):
        input, batched, batch_dim = self._prepare(input, self._kind)
        if hx is not None:
            if not batched:
                if hx.dim() != 2:
                    raise TorchRuntimeError("For unbatched 2-D input, hx should also be 2-D but "
                                            f"got {hx.dim()}-D tensor")
                hx = hx.unsqueeze(1)
            elif hx.dim() != 3:
                raise TorchRuntimeError("For batched 3-D input, hx should also be 3-D but got "
                                        f"{hx.dim()}-D tensor")
        else:
            hx = self._zeros(input, self.hidden_size)
        self.check_forward_args(input, hx)
        out, finals = self._forward(input, list(hx.unbind(0)))
        hidden = stack(finals, 0)
        if not batched:
            out, hidden = out.squeeze(batch_dim), hidden.squeeze(1)
        return out, hidden


class RNN(_OneHidden):
    """An Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) (or relu)."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise GradcalcValueError(
                "proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise GradcalcValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from "
                                     "'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)


class GRU(_OneHidden):
    """A gated recurrent unit network (reset, update and new gates)."""

    _kind = "GRU"

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise GradcalcValueError(
                "proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class LSTM(RNNBase):
    """A long short-term memory network: (output, (h_n, c_n))."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input, batch_sizes=None) -> tuple:
        mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes=None) -> None:
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def forward(self, input, hx=None):
        input, batched, batch_dim = self._prepare(input, "LSTM")
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            hx = (self._zeros(input, real_hidden), self._zeros(input, self.hidden_size))
        else:
            if batched:
                if hx[0].dim() != 3 or hx[1].dim() != 3:
                    raise TorchRuntimeError(
                        "For batched 3-D input, hx and cx should also be 3-D but got "
                        f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            else:
                if hx[0].dim() != 2 or hx[1].dim() != 2:
                    raise TorchRuntimeError(
                        "For unbatched 2-D input, hx and cx should also be 2-D but got "
                        f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self.check_forward_args(input, hx)
        hiddens = list(zip(hx[0].unbind(0), hx[1].unbind(0)))
        out, finals = self._forward(input, hiddens)
        h = stack([f[0] for f in finals], 0)
        c = stack([f[1] for f in finals], 0)
        if not batched:
            out, h, c = out.squeeze(batch_dim), h.squeeze(1), c.squeeze(1)
        return out, (h, c)


# --- the cell modules --------------------------------------------------------------------------


def _check_cell(input, hx, w_ih, w_hh, label):
    if input.size(1) != w_ih.size(1):
        raise TorchRuntimeError(f"input has inconsistent input_size: got {input.size(1)} "
                                f"expected {w_ih.size(1)}")
    if hx is None:
        return
    if input.size(0) != hx.size(0):
        raise TorchRuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{label} "
                                f"batch size {hx.size(0)}")
    if hx.size(1) != w_hh.size(1):
        raise TorchRuntimeError(f"hidden{label} has inconsistent hidden_size: got {hx.size(1)}, "
                                f"expected {w_hh.size(1)}")


class RNNCellBase(Module):
    """What the cells share: weight_ih, weight_hh, bias_ih, bias_hh and their init."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), dtype=dtype,
                                         device=device))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), dtype=dtype,
                                         device=device))
        if bias:
            self.bias_ih = Parameter(empty((num_chunks * hidden_size,), dtype=dtype,
                                           device=device))
            self.bias_hh = Parameter(empty((num_chunks * hidden_size,), dtype=dtype,
                                           device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _params(self):
        return (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None)

    def _batch(self, input, name):
        if input.dim() not in (1, 2):
            raise GradcalcValueError(f"{name}: Expected input to be 1D or 2D, got "
                                     f"{input.dim()}D instead")
        batched = input.dim() == 2
        return (input if batched else input.unsqueeze(0)), batched

    def _zeros(self, input):
        return zeros((input.size(0), self.hidden_size), dtype=input.dtype, device=input.device)


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if hx is not None and hx.dim() not in (1, 2):
            raise GradcalcValueError(f"RNNCell: Expected hidden to be 1D or 2D, got "
                                     f"{hx.dim()}D instead")
        input, batched = self._batch(input, "RNNCell")
        hx = self._zeros(input) if hx is None else (hx if batched else hx.unsqueeze(0))
        if self.nonlinearity not in ("tanh", "relu"):
            raise TorchRuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        _check_cell(input, hx, self.weight_ih, self.weight_hh, 0)
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        out = _CELLS[mode](input, hx, self._params(), False)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if input.dim() not in (1, 2):
            raise GradcalcValueError(f"LSTMCell: Expected input to be 1D or 2D, got "
                                     f"{input.dim()}D instead")
        if hx is not None:
            for i, v in enumerate(hx):
                if v.dim() not in (1, 2):
                    raise GradcalcValueError(f"LSTMCell: Expected hx[{i}] to be 1D or 2D, got "
                                             f"{v.dim()}D instead")
        input, batched = self._batch(input, "LSTMCell")
        if hx is None:
            z = self._zeros(input)
            hx = (z, z)
        elif not batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        _check_cell(input, hx[0], self.weight_ih, self.weight_hh, 0)
        _check_cell(input, hx[1], self.weight_ih, self.weight_hh, 1)
        h, c = _lstm_cell(input, tuple(hx), self._params(), False)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and hx.dim() not in (1, 2):
            raise GradcalcValueError(f"GRUCell: Expected hidden to be 1D or 2D, got "
                                     f"{hx.dim()}D instead")
        input, batched = self._batch(input, "GRUCell")
        hx = self._zeros(input) if hx is None else (hx if batched else hx.unsqueeze(0))
        _check_cell(input, hx, self.weight_ih, self.weight_hh, 0)
        out = _gru_cell(input, hx, self._params(), False)
        return out if batched else out.squeeze(0)
