"""The peer, as a user writes it: ``loss_landscapes.random_plane`` (3.0.6) on an MLP read from a
safetensors file, over the data of an ``.npz`` (arrays X, y), filter-normalized, full batch.

Usage: python benchmarks/peer_random_plane.py MODEL.safetensors DATA.npz STEPS OUT.npy
(run by benchmarks/whole_process.py; the network is the 2-64-64-2 ReLU MLP it trains).
"""

import sys

import loss_landscapes
import loss_landscapes.metrics
import numpy as np
import safetensors.torch
import torch

model = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                            torch.nn.ReLU(), torch.nn.Linear(64, 2))
model.load_state_dict(safetensors.torch.load_file(sys.argv[1]))
model.eval()
data = np.load(sys.argv[2])
metric = loss_landscapes.metrics.Loss(torch.nn.functional.cross_entropy,
                                      torch.as_tensor(data["X"]), torch.as_tensor(data["y"]))
values = loss_landscapes.random_plane(model, metric, distance=1, steps=int(sys.argv[3]),
                                      normalization="filter", deepcopy_model=True)
np.save(sys.argv[4], values)
