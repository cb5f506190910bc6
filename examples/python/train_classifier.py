"""Train a small classifier on XOR-like data it generates, with gradcalc as the PyTorch stand-in.

Four Gaussian blobs at the corners of a square; opposite corners share a class (XOR), so no
linear model can separate them. A 2-16-16-2 MLP trained with Adam and a seeded DataLoader takes
the loss below the stated threshold. On a terminal a Rich progress bar runs alongside the
log lines; in a pipe only the (deterministic) lines are printed.

Run: python examples/python/train_classifier.py   (expected output: train_classifier.expected)
(A Python program using gradcalc as a library; `gradcalc run` runs scripts, not this.)
"""

import sys

import gradcalc as torch
from gradcalc import nn, optim
from gradcalc.utils.data import DataLoader, TensorDataset

SEED = 2
EPOCHS = 60
THRESHOLD = 0.1


def make_xor(n_per_blob: int = 50, noise: float = 0.25):
    gen = torch.Generator().manual_seed(SEED)
    corners = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    xs, ys = [], []
    for corner, label in zip(corners, labels):
        xs.append(corner + noise * torch.randn(n_per_blob, 2, generator=gen))
        ys.append(label.repeat(n_per_blob))
    return torch.cat(xs) * 2 - 1, torch.cat(ys)


def main() -> None:
    torch.manual_seed(SEED)
    X, y = make_xor()
    loader = DataLoader(TensorDataset(X, y), batch_size=20, shuffle=True,
                        generator=torch.Generator().manual_seed(SEED))
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 2))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.005)
    print(model)
    print(f"training on {len(X)} XOR points, {len(loader)} batches per epoch")

    progress = None
    write = print
    if sys.stdout.isatty():
        from rich.progress import BarColumn, Progress, TextColumn

        progress = Progress(TextColumn("epoch {task.completed:>3}/{task.total}"), BarColumn(),
                            TextColumn("loss {task.fields[loss]:.4f}"), transient=True)
        task = progress.add_task("train", total=EPOCHS, loss=float("nan"))
        progress.start()
        write = progress.console.print

    first = None
    try:
        for epoch in range(1, EPOCHS + 1):
            model.train()
            total = 0.0
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(xb)
            epoch_loss = total / len(X)
            first = epoch_loss if first is None else first
            if progress is not None:
                progress.update(task, advance=1, loss=epoch_loss)
            if epoch == 1 or epoch % 10 == 0:
                write(f"epoch {epoch:3d}  loss {epoch_loss:.3f}")
    finally:
        if progress is not None:
            progress.stop()

    model.eval()
    with torch.no_grad():
        logits = model(X)
        final = loss_fn(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    reached = "yes" if final < THRESHOLD else "no"
    print(f"loss fell from {first:.3f} to {final:.3f} (threshold {THRESHOLD}: {reached})")
    print(f"accuracy: {accuracy * 100:.1f}% ({int(round(accuracy * len(X)))}/{len(X)})")
    sys.exit(0 if final < THRESHOLD else 1)


if __name__ == "__main__":
    main()
