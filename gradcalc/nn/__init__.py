"""nn layer: PyTorch's torch.nn on gradcalc's core — Module, Parameter, layers, losses, init."""

import importlib


# Loaded on first use: the language and the core need only nn.functional at start-up.
def __getattr__(name):
    if name in ("init", "functional", "modules"):
        mod = importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    if name == "Parameter":
        from .parameter import Parameter

        globals()[name] = Parameter
        return Parameter
    if name in __all__:
        modules = importlib.import_module(".modules", __name__)
        value = getattr(modules, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gradcalc.nn' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Bilinear",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "Hardtanh",
    "Identity",
    "L1Loss",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "ReLU",
    "ReLU6",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
]
