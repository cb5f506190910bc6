"""Build the tutorial's 50-30-20-3 multilayer perceptron, print it and count its parameters.

Run: python examples/python/mlp_50_30_20_3.py   (expected output: mlp_50_30_20_3.expected)
(A Python program using gradcalc as a library; `gradcalc run` runs scripts, not this.)
"""

import gradcalc as torch
from gradcalc import nn


class NeuralNetwork(nn.Module):
    def __init__(self, num_inputs, num_outputs):
        super().__init__()
        self.layers = nn.Sequential(
            # 1st hidden layer
            nn.Linear(num_inputs, 30),
            nn.ReLU(),
            # 2nd hidden layer
            nn.Linear(30, 20),
            nn.ReLU(),
            # output layer
            nn.Linear(20, num_outputs),
        )

    def forward(self, x):
        logits = self.layers(x)
        return logits


torch.manual_seed(123)
model = NeuralNetwork(50, 3)
print(model)

num_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
print("Total number of trainable model parameters:", num_params)
print(model.layers[0].weight.shape)

same = nn.Sequential(nn.Linear(50, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 3))
print("nn.Sequential version:", sum(p.numel() for p in same.parameters()), "parameters")

X = torch.rand((1, 50))
out = model(X)
print("output:", tuple(out.shape), "grad_fn:", out.grad_fn.name())
with torch.no_grad():
    probas = torch.softmax(model(X), dim=1)
print("softmax under no_grad: requires_grad =", probas.requires_grad,
      "| rows sum to", round(probas.sum().item(), 4))
