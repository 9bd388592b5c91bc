"""Circle loss (Sun et al., "Circle Loss: A Unified Perspective of Pair Similarity
Optimization", CVPR 2020) as a dmlstudy plugin: one file, one ``register`` call.

Benchmark it against the paper's two losses with two lines of config::

    plugins: [examples/plugins/circle_loss.py]
    losses: [contrastive, triplet, circle]

For each anchor i of a class-balanced batch, with the cosine similarities s_p to its
positives and s_n to its negatives (Eq. 4 and 6 of the paper)::

    L_i = softplus( logsumexp_p[ -γ α_p (s_p - Δ_p) ] + logsumexp_n[ γ α_n (s_n - Δ_n) ] )
    α_p = [1 + m - s_p]_+ ,  α_n = [s_n + m]_+    (weights: no gradient flows through them)
    Δ_p = 1 - m ,  Δ_n = m

An anchor without a positive or without a negative in the batch gets 0. The relaxation ``M``
and the scale ``GAMMA`` are this file's constants (the paper's fine-grained retrieval setting,
also pytorch-metric-learning's defaults): edit them here and the workflow reruns exactly the
circle-loss runs, since a plugin file's content is part of their parameters.

torch is imported inside the function, not at the top: Snakemake's main process imports
every plugin to validate the config, and should not pay for torch at each start.
"""

from dmlstudy.losses import LossSpec, register

#: Relaxation m: the margin of the decision boundary (Sun et al.: 0.4 for fine-grained retrieval).
M = 0.4
#: Scale γ of the similarities (Sun et al.: 80 for fine-grained retrieval).
GAMMA = 80.0


def circle_loss(z, labels, m: float = M, gamma: float = GAMMA):
    """One circle-loss value per anchor of a batch: ``z`` (B, D) embeddings, ``labels`` (B,)."""
    import torch

    z = torch.nn.functional.normalize(z, dim=1)
    s = z @ z.T
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool, device=z.device)
    neg = ~same
    alpha_p = (1 + m - s.detach()).clamp(min=0)
    alpha_n = (s.detach() + m).clamp(min=0)
    logits_p = -gamma * alpha_p * (s - (1 - m))
    logits_n = gamma * alpha_n * (s - m)
    lowest = torch.finfo(s.dtype).min  # a masked entry: exp() is 0, no inf - inf in backward
    lse_p = logits_p.masked_fill(~pos, lowest).logsumexp(dim=1)
    lse_n = logits_n.masked_fill(~neg, lowest).logsumexp(dim=1)
    has_both = pos.any(dim=1) & neg.any(dim=1)
    total = torch.where(has_both, lse_p + lse_n, torch.zeros_like(lse_p))
    return torch.nn.functional.softplus(total) * has_both


register(
    LossSpec(
        name="circle",
        label="Circle",
        partners="batch",  # whole class-balanced batches (sampling.m_per_class per class)
        per_item=lambda z, labels, options: circle_loss(z, labels),
        active="anchors with a positive and a negative in the batch (the softplus is never "
        "exactly 0, so the active ratio stays near 1; the gradient norm shows its greediness)",
        source="Sun et al., CVPR 2020 (plugin examples/plugins/circle_loss.py)",
    )
)
