"""Activation recomputation (common/nets/recompute.py): a recomputing training step equals an ordinary one."""
import pytest
import torch

from main.model import I2LMeshNet
from tools.stand_in_weights import random_batch


@pytest.mark.slow
def test_recompute_gives_the_same_step(mano):
    """Activation recomputation: identical gradients, and BatchNorm statistics updated once, not twice."""
    torch.manual_seed(0)
    net = I2LMeshNet(mano).train()
    recomputing = I2LMeshNet(mano, recompute=True).train()
    recomputing.load_state_dict(net.state_dict())
    inputs, targets, meta = random_batch(mano, 2, seed=7)
    for model in (net, recomputing):
        loss = model(inputs, targets, meta, "train")
        sum(v.mean() for v in loss.values()).backward()
    grads = {n: p.grad for n, p in net.named_parameters() if p.grad is not None}
    other = dict(recomputing.named_parameters())
    assert len(grads) > 300 and all(torch.equal(g, other[n].grad) for n, g in grads.items())
    buffers = dict(recomputing.named_buffers())
    assert all(torch.equal(b, buffers[n]) for n, b in net.named_buffers())
    assert recomputing.mesh_backbone.layer1[0].bn1.num_batches_tracked == 1
