"""The rehearsal's backbone: a small, randomly initialised transformers ViT saved with
``save_pretrained`` (plus the image processor's ``preprocessor_config.json``), loaded offline
by the ``hf_vit`` backbone through the real 224-px input pipeline.

It keeps what sets the sizes downstream of the backbone: 224 x 224 input in 32 x 32 patches
(50 tokens), hidden size 768 (so the features, the head and the evaluation are the paper's
sizes), 12 heads, MLP 3072, the processor's mean = std = 0.5 of
``google/vit-base-patch32-224-in21k``. It has 1 transformer layer instead of 12: a forward
is 0.94 GFLOP per image (multiply and add counted apart) against ViT-B/32's 8.7, so the
extraction of 88,000 images fits a CPU. Its features carry no ImageNet knowledge.
"""

from __future__ import annotations

from pathlib import Path

VIT_SETTINGS = {
    "hidden_size": 768,
    "num_hidden_layers": 1,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "image_size": 224,
    "patch_size": 32,
}


def write_vit(folder: str | Path, seed: int = 0, **overrides) -> Path:
    """Save the random ViT (``VIT_SETTINGS`` with ``overrides``) into ``folder``."""
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    settings = {**VIT_SETTINGS, **overrides}
    torch.manual_seed(seed)
    model = ViTModel(ViTConfig(**settings), add_pooling_layer=False)
    model.save_pretrained(folder)
    size = settings["image_size"]
    ViTImageProcessor(
        size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3
    ).save_pretrained(folder)
    return folder
