"""PyTorch Gravity Spy merged-view CNN (Bahaadini et al. 2018), the baseline of GravityViT.

It reads the same inputs as GravityViT: ``pixel_values`` (B, 4, 3, H, W) and ``view_mask`` (B, 4)
from ``GravityViTImageProcessor``. The three identical gray channels are averaged back to one, the
views tiled 2x2 (0.5 s, 1 s on top; 2 s, 4 s below; missing views are zeros) into the merged view
(B, 1, 2H, 2W), then four conv-ReLU-maxpool blocks, a dense layer and the classifier.
"""

from __future__ import annotations

import itertools
from typing import ClassVar

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init

from .configuration_gravityspy_cnn import GravitySpyCNNConfig
from .losses import config_classification_loss, scale_logits
from .modeling_gravityvit import (
    FiniteWeightsMixin,
    GlitchClassifierOutput,
    prepare_config_inputs,
    uniform_view_weights,
)
from .modeling_unknown import GlitchFeatureStatistics


def tile_merged_view(views: torch.Tensor) -> torch.Tensor:
    """Tile (B, 4, H, W) views into Gravity Spy's (B, 1, 2H, 2W) merged view (``gravity_spy.merge_views`` layout)."""
    top = torch.cat([views[:, 0], views[:, 1]], dim=-1)
    bottom = torch.cat([views[:, 2], views[:, 3]], dim=-1)
    return torch.cat([top, bottom], dim=-2)[:, None]


class GravitySpyCNNBlock(nn.Module):
    """Convolution ("same" padding), ReLU, 2x2 max-pooling."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding="same")
        self.activation = nn.ReLU()
        self.pool = nn.MaxPool2d(2)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(B, C_in, h, w) -> (B, C_out, h // 2, w // 2)."""
        return self.pool(self.activation(self.conv(hidden)))


class GravitySpyCNNPreTrainedModel(FiniteWeightsMixin, PreTrainedModel):
    """Initialisation shared by the Gravity Spy CNN models (Glorot-uniform weights, zero biases, as Keras)."""

    config: GravitySpyCNNConfig
    config_class = GravitySpyCNNConfig
    base_model_prefix = "gravityspy_cnn"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    _no_split_modules: ClassVar[list[str]] = ["GravitySpyCNNBlock"]
    # Models saved before the unknown-score statistics existed load with them unfitted (zeros).
    _keys_to_ignore_on_load_missing: ClassVar[list[str]] = [r"unknown_statistics\."]
    accepts_loss_kwargs = False

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            init.xavier_uniform_(module.weight)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, GlitchFeatureStatistics):
            # Unfitted statistics (a model saved before they existed loads them so).
            for buffer in module.buffers(recurse=False):
                init.zeros_(buffer)

    def get_input_embeddings(self) -> None:
        """Vision model: there are no token embeddings."""
        return None


class GravitySpyCNNForGlitchClassification(GravitySpyCNNPreTrainedModel):
    """The Gravity Spy merged-view CNN classifier.

    ``view_weights`` in its output are uniform over the present views (the CNN has no per-view
    attribution); they are returned so that every classifier of the package gives the same fields.
    """

    def __init__(self, config: GravitySpyCNNConfig) -> None:
        super().__init__(config)
        channels = [1, *config.conv_channels]
        self.blocks = nn.ModuleList(
            GravitySpyCNNBlock(c_in, c_out, config.kernel_size)
            for c_in, c_out in itertools.pairwise(channels)
        )
        height, width = config.image_size_hw
        height, width = 2 * height, 2 * width
        for _ in config.conv_channels:
            height, width = height // 2, width // 2
        self.dense = nn.Linear(channels[-1] * height * width, config.dense_size)
        self.activation = nn.ReLU()
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.dense_size, config.num_labels)
        # Class statistics of the dense layer's output for the relative Mahalanobis unknown score.
        self.unknown_statistics = GlitchFeatureStatistics(config.num_labels, config.dense_size)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        view_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        view_index: int | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> GlitchClassifierOutput | tuple:
        r"""Classify a batch of glitches from their merged view.

        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch_size, 4, 3, height, width)` or `(batch_size, 3, height, width)`):
                Views from ``GravityViTImageProcessor``; a 4-D tensor is one view per sample placed in
                slot ``view_index`` (default: the view nearest 1 s), the rest zeros.
            view_mask (`torch.BoolTensor` of shape `(batch_size, 4)`, *optional*):
                True for present views; absent views are zeros in the merged view.
            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Class indices; the loss follows the config.
            view_index (`int`, *optional*):
                Slot of a 4-D input.
            output_attentions (`bool`, *optional*):
                Accepted for a uniform interface; the CNN has no attentions (always None).
            output_hidden_states (`bool`, *optional*):
                Return the feature map after each convolution block.
            return_dict (`bool`, *optional*):
                Return a ``GlitchClassifierOutput`` (default) instead of a tuple.

        Raises:
            ValueError: for inputs of the wrong shape or a sample with no present view.
        """
        config = self.config
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else config.return_dict
        pixel_values, view_mask = prepare_config_inputs(config, pixel_values, view_mask, view_index)
        dtype = self.dense.weight.dtype
        # The processor repeats gray into 3 identical channels; the CNN reads one, as in production.
        gray = pixel_values.to(dtype).mean(dim=2) * view_mask[:, :, None, None].to(dtype)
        hidden = tile_merged_view(gray)
        hidden_states = []
        for block in self.blocks:
            hidden = block(hidden)
            hidden_states.append(hidden)
        features = self.activation(self.dense(hidden.flatten(1)))
        logits = self.classifier(self.dropout(features))
        loss = None
        if labels is not None:
            loss = config_classification_loss(logits, labels, config)
        logits = scale_logits(logits, config)
        unknown_score = self.unknown_statistics(
            logits, features, getattr(config, "unknown_score_method", "energy")
        )
        view_weights = uniform_view_weights(view_mask, logits.dtype)
        states = tuple(hidden_states) if output_hidden_states else None
        if not return_dict:
            return tuple(v for v in (loss, logits, view_weights, states, unknown_score) if v is not None)
        return GlitchClassifierOutput(
            loss=loss,
            logits=logits,
            view_weights=view_weights,
            hidden_states=states,
            unknown_score=unknown_score,
        )


__all__ = ["GravitySpyCNNForGlitchClassification", "GravitySpyCNNPreTrainedModel", "tile_merged_view"]
