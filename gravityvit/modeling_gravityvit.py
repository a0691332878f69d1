"""PyTorch GravityViT: a shared timm backbone over the Omega-scan views, fused by cross-attention.

Data flow of ``GravityViTForGlitchClassification``::

    pixel_values (B, V, 3, H, W), view_mask (B, V)
      -> the present views of the whole batch, gathered: (P, 3, H, W)       [one backbone call]
      -> timm forward_features: (P, T, D) tokens, scattered back to (B, V, T, D)
      -> + learned duration embedding of each view (V, D)
      -> fusion: Q queries (learned + mean of the present tokens) cross-attend over all tokens of all
         present views (masked keys)
      -> pooled (B, D) = mean of the Q fused queries; view_weights (B, V) = attention mass per view
      -> MLP head -> logits (B, num_labels); loss from the config (gravityvit.losses)
      -> unknown_score (B,) from the logits or the pooled feature (gravityvit.modeling_unknown)
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import timm
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_gravityvit import GravityViTConfig
from .losses import config_classification_loss, scale_logits
from .modeling_backbone import create_config_backbone, resolve_backbone_fields
from .modeling_unknown import GlitchFeatureStatistics

logger = logging.getLogger(__name__)

BACKBONE_WEIGHT_SUFFIXES: tuple[str, ...] = (".safetensors", ".pth", ".pt", ".bin")
# Normalised pixels lie within a few units of 0; anything beyond this is not a normalised view.
MAX_ABS_PIXEL_VALUE = 1e4


class CorruptWeightsError(OSError):
    """Loaded weights hold NaN or infinite values: the weights file is corrupt."""


def check_finite_weights(model: nn.Module, source: object = None) -> None:
    """Raise ``CorruptWeightsError`` naming the first parameter or buffer with NaN or inf values.

    A corrupt weights file can load without complaint and then give NaN scores for every input;
    checking once after loading turns that into an error that names the file.
    """
    for name, tensor in (*model.named_parameters(), *model.named_buffers()):
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            where = f"{source}: " if source is not None else ""
            raise CorruptWeightsError(
                f"{where}the weight {name} holds {bad} NaN or infinite value(s) of {tensor.numel()}: the weights "
                "file is corrupt; restore or re-download it"
            )


class FiniteWeightsMixin:
    """``from_pretrained`` that refuses weights with NaN or inf values (see ``check_finite_weights``)."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        loaded = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        check_finite_weights(model, pretrained_model_name_or_path)
        statistics = getattr(model, "unknown_statistics", None)
        if (
            getattr(model.config, "unknown_score_method", "energy") == "relative_mahalanobis"
            and statistics is not None
            and not statistics.is_fitted()
        ):
            # The threshold was fitted on the relative Mahalanobis score; the energy score it falls
            # back to lives on another scale, so the unknown flags are meaningless until refitted.
            logger.warning(
                "%s: config.json asks for the relative_mahalanobis unknown score but the weights hold no "
                "class statistics; the energy score is returned instead. Refit with gravityvit calibrate.",
                pretrained_model_name_or_path,
            )
        return loaded


@dataclass
class GravityViTModelOutput(ModelOutput):
    r"""Output of ``GravityViTModel``.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_queries, hidden_size)`):
            The fused query tokens after the last fusion layer (``fusion="cross_attention"``), or the
            fused representation as one token `(batch_size, 1, hidden_size)` for ``mean`` / ``concat``.
        pooler_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
            The pooled fused representation fed to the classification head.
        view_weights (`torch.FloatTensor` of shape `(batch_size, num_views)`):
            How much each view contributed: for cross-attention, the attention mass the queries put on
            the view's tokens, averaged over heads, queries and fusion layers; for ``mean`` and
            ``concat``, uniform over the present views. Each row sums to 1 over the present views and
            is 0 for masked views.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned with `output_hidden_states=True`):
            First the backbone's output tokens of every view, `(batch_size, num_views, num_tokens,
            hidden_size)` (zeros for masked views; ``num_tokens`` counts the class token), then for
            cross-attention the query tokens after each fusion layer, `(batch_size, num_queries,
            hidden_size)`.
        attentions (`tuple(torch.FloatTensor)`, *optional*, returned with `output_attentions=True`):
            Cross-attention fusion only: one tensor per fusion layer of shape `(batch_size,
            fusion_num_heads, num_queries, num_views * num_tokens)`, keys in view-major order
            (view 0's tokens first). The timm backbone does not expose its attention maps.
    """

    last_hidden_state: torch.FloatTensor | None = None
    pooler_output: torch.FloatTensor | None = None
    view_weights: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class GlitchClassifierOutput(ModelOutput):
    r"""Output of the glitch classifiers (``GravityViTForGlitchClassification``, ``GravitySpyCNNForGlitchClassification``).

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is given):
            Cross-entropy with label smoothing (or focal loss) and optional class weights, as configured.
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            Class scores before softmax, divided by the config's ``logit_temperature`` (1.0 unless the
            model was calibrated), so that their softmax is the calibrated probability. The loss is
            computed from the undivided scores.
        view_weights (`torch.FloatTensor` of shape `(batch_size, num_views)`, *optional*):
            Contribution of each view (see ``GravityViTModelOutput.view_weights``); rows sum to 1 over
            the present views, 0 for masked ones. The CNN baseline returns uniform weights over the
            present views (it has no per-view attribution).
        hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned with `output_hidden_states=True`):
            As in ``GravityViTModelOutput.hidden_states``; for the CNN, the feature map after each
            convolution block `(batch_size, channels, height, width)`.
        attentions (`tuple(torch.FloatTensor)`, *optional*, returned with `output_attentions=True`):
            As in ``GravityViTModelOutput.attentions`` (None for the CNN and non-attention fusions).
        unknown_score (`torch.DoubleTensor` of shape `(batch_size,)`):
            The unknown-glitch score of the config's ``unknown_score_method`` (higher = less like any
            trained class; see ``gravityvit.modeling_unknown``): the energy of ``logits``, or the
            relative Mahalanobis distance of the pooled feature to the fitted class statistics.
            Compared with the config's ``unknown_threshold`` to flag unknown glitches. Detached
            (no gradient); float64 except on MPS; None in training mode.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    view_weights: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    unknown_score: torch.DoubleTensor | None = None


def lone_view_slot(view_durations_s: list[float]) -> int:
    """Slot that a lone (batch, 3, H, W) view fills: the view whose duration is nearest 1 s.

    1 s is Gravity Spy's reference Omega-scan window (and the default of the image processor's
    ``default_view_duration_s``). A caller picks another slot with ``forward(view_index=...)``;
    ``gravity_spy.view_position`` is a duration's position among Gravity Spy's four views.
    """
    return min(range(len(view_durations_s)), key=lambda i: abs(view_durations_s[i] - 1.0))


def prepare_multiview_inputs(
    pixel_values: torch.Tensor,
    view_mask: torch.Tensor | None,
    num_views: int,
    view_durations_s: list[float],
    image_size_hw: tuple[int, int],
    view_index: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the model inputs and bring them to (B, V, 3, H, W) pixels and a (B, V) bool mask.

    A (B, 3, H, W) input is one view per sample: with ``num_views == 1`` it is that view; otherwise
    it fills slot ``view_index`` (default: the view nearest 1 s, see ``lone_view_slot``) and the
    other slots are masked.

    Raises:
        ValueError: For a wrong number of dimensions, views, channels or pixels, a mask of the wrong
            shape, or a sample with no present view.
    """
    height, width = image_size_hw
    expected = f"(batch, {num_views}, 3, {height}, {width}) or (batch, 3, {height}, {width})"
    if not isinstance(pixel_values, torch.Tensor):
        raise ValueError(
            f"pixel_values must be a torch.Tensor of shape {expected}; got {type(pixel_values).__name__}"
        )
    if not pixel_values.is_floating_point():
        raise ValueError(
            f"pixel_values must be floating point (normalised views from GravityViTImageProcessor); got "
            f"{pixel_values.dtype}"
        )
    given_shape = tuple(pixel_values.shape)
    if pixel_values.ndim == 4:
        if given_shape[1:] != (3, height, width):
            raise ValueError(f"pixel_values must have shape {expected}; got {given_shape}")
        batch = pixel_values.shape[0]
        if view_index is None:
            view_index = lone_view_slot(view_durations_s)
        if not 0 <= view_index < num_views:
            raise ValueError(f"view_index must lie in [0, {num_views}); got {view_index}")
        if view_mask is not None:
            raise ValueError(
                "view_mask is only accepted with multi-view pixel_values (batch, views, 3, H, W)"
            )
        expanded = pixel_values.new_zeros(batch, num_views, *pixel_values.shape[1:])
        expanded[:, view_index] = pixel_values
        pixel_values = expanded
        view_mask = torch.zeros(batch, num_views, dtype=torch.bool, device=pixel_values.device)
        view_mask[:, view_index] = True
    if pixel_values.ndim != 5 or tuple(pixel_values.shape[1:]) != (num_views, 3, height, width):
        raise ValueError(f"pixel_values must have shape {expected}; got {given_shape}")
    batch = pixel_values.shape[0]
    if view_mask is None:
        view_mask = torch.ones(batch, num_views, dtype=torch.bool, device=pixel_values.device)
    else:
        if not isinstance(view_mask, torch.Tensor) or tuple(view_mask.shape) != (batch, num_views):
            raise ValueError(
                f"view_mask must have shape (batch, views) = ({batch}, {num_views}); got "
                f"{tuple(getattr(view_mask, 'shape', ()))}"
            )
        if view_mask.dtype != torch.bool:
            # A float or int mask is ambiguous (weights? indices?): the processor gives bool.
            raise ValueError(
                f"view_mask must be a torch.bool tensor (True = view present); got {view_mask.dtype}"
            )
        view_mask = view_mask.to(device=pixel_values.device)
    if batch == 0:
        raise ValueError(f"pixel_values holds no sample (shape {given_shape}); give at least one")
    if not bool(view_mask.any(dim=1).all()):
        empty = torch.nonzero(~view_mask.any(dim=1)).flatten().tolist()
        raise ValueError(
            f"every sample needs at least one present view; samples {empty} have none (view_mask all False)"
        )
    # One reduction over the present views: NaN fails both comparisons, so it is caught too.
    present = pixel_values if bool(view_mask.all()) else pixel_values[view_mask]
    low, high = torch.aminmax(present.detach())
    if not (float(low) >= -MAX_ABS_PIXEL_VALUE and float(high) <= MAX_ABS_PIXEL_VALUE):
        raise ValueError(
            f"pixel_values of present views must be finite normalised values (|x| <= {MAX_ABS_PIXEL_VALUE:g}); "
            f"got min {float(low):.4g}, max {float(high):.4g}"
        )
    return pixel_values, view_mask


def prepare_config_inputs(
    config: PreTrainedConfig,
    pixel_values: torch.Tensor,
    view_mask: torch.Tensor | None,
    view_index: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``prepare_multiview_inputs`` with the view layout of a model config.

    ``config`` is a ``GravityViTConfig`` or ``GravitySpyCNNConfig``: any config with ``num_views``,
    ``view_durations_s`` and ``image_size_hw``.
    """
    return prepare_multiview_inputs(
        pixel_values,
        view_mask,
        config.num_views,
        config.view_durations_s,
        config.image_size_hw,
        view_index,
    )


class GravityViTCrossAttention(nn.Module):
    """Multi-head attention of a few query tokens over many key tokens, with a key padding mask.

    The probabilities are an output (the per-view attention mass), so they are computed explicitly
    (softmax of the scores). The attended values come from the same probabilities, or, in the
    re-associated order without attention dropout, from ``F.scaled_dot_product_attention`` over the
    same scores: its fused backward is cheaper than autograd's through the softmax and the two key
    products, and the explicit probabilities cost nothing in the backward pass unless something
    differentiates them.

    With few queries the key/value projection of every key token (``kv_proj``, 2 D x D per token)
    is the cost, so it is re-associated onto the queries when that is cheaper (``num_heads x
    num_queries < hidden_size``): ``q . (W_k x + b_k) = (W_k^T q) . x + q . b_k``, where the last term
    is the same for every key and cancels in the softmax, and ``sum_l p_l (W_v x_l + b_v) = W_v (sum_l
    p_l x_l) + b_v sum_l p_l``. Same function and weights (``kv_proj`` keeps its name and layout), but
    the keys are touched only by two (heads x queries)-row products; results differ by rounding.
    """

    def __init__(self, hidden_size: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.scale = self.head_dim**-0.5
        self.q_proj = nn.Linear(hidden_size, hidden_size)
        self.kv_proj = nn.Linear(hidden_size, 2 * hidden_size)
        self.out_proj = nn.Linear(hidden_size, hidden_size)
        self.attn_dropout = nn.Dropout(dropout)

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend ``queries`` (B, Q, D) over ``keys`` (B, L, D) where ``key_mask`` (B, L) is True.

        ``key_mask`` None means every key is present (no masking pass). Returns the attended queries
        (B, Q, D) and the probabilities (B, heads, Q, L).
        """
        batch, num_queries, hidden = queries.shape
        q = self.q_proj(queries).view(batch, num_queries, self.num_heads, self.head_dim).transpose(1, 2)
        if self.num_heads * num_queries < hidden:
            probs, attended = self._attend_projected_queries(q, keys, key_mask)
        else:
            probs, attended = self._attend_projected_keys(q, keys, key_mask)
        attended = attended.transpose(1, 2).reshape(batch, num_queries, hidden)
        return self.out_proj(attended), probs

    def _softmax(self, scores: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask[:, None, None, :], torch.finfo(scores.dtype).min)
        return scores.softmax(dim=-1)

    def _attend_projected_keys(
        self, q: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Textbook order: project every key token, then attend. Returns probs and (B, H, Q, hd)."""
        k, v = (
            self.kv_proj(keys)
            .view(keys.shape[0], keys.shape[1], 2, self.num_heads, self.head_dim)
            .permute(2, 0, 3, 1, 4)
        )
        probs = self._softmax((q * self.scale) @ k.transpose(-2, -1), key_mask)
        return probs, self.attn_dropout(probs) @ v

    def _attend_projected_queries(
        self, q: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Re-associated order (see the class docstring). Returns probs and (B, H, Q, hd)."""
        batch, heads, num_queries, head_dim = q.shape
        hidden = keys.shape[-1]
        weight = self.kv_proj.weight.view(2, heads, head_dim, hidden)
        value_bias = self.kv_proj.bias.view(2, heads, 1, head_dim)[1]
        # (B, H, Q, hd) x (H, hd, D) -> (B, H*Q, D): queries in the keys' input space.
        q_in = torch.einsum("bhqe,hed->bhqd", q * self.scale, weight[0]).reshape(
            batch, heads * num_queries, hidden
        )
        scores = (q_in @ keys.transpose(1, 2)).view(batch, heads, num_queries, keys.shape[1])
        probs = self._softmax(scores, key_mask)
        if not (self.training and self.attn_dropout.p > 0):
            # One head of (heads x queries) rows over the shared keys, which are also the values (the
            # scale is already in q_in). Probabilities sum to 1, so the value bias enters once.
            keys_as_head = keys[:, None]
            mixed = F.scaled_dot_product_attention(
                q_in[:, None],
                keys_as_head,
                keys_as_head,
                attn_mask=None if key_mask is None else key_mask[:, None, None, :],
                scale=1.0,
            ).view(batch, heads, num_queries, hidden)
            return probs, torch.einsum("bhqd,hed->bhqe", mixed, weight[1]) + value_bias
        dropped = self.attn_dropout(probs)
        mixed = (dropped.reshape(batch, heads * num_queries, -1) @ keys).view(
            batch, heads, num_queries, hidden
        )
        attended = torch.einsum("bhqd,hed->bhqe", mixed, weight[1])
        return probs, attended + dropped.sum(-1, keepdim=True) * value_bias


class GravityViTFusionLayer(nn.Module):
    """One pre-norm fusion layer: queries cross-attend over the view tokens, then an MLP."""

    def __init__(self, config: GravityViTConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.query_norm = nn.LayerNorm(hidden, eps=1e-6)
        self.key_norm = nn.LayerNorm(hidden, eps=1e-6)
        self.attention = GravityViTCrossAttention(hidden, config.fusion_num_heads, config.fusion_dropout)
        self.mlp_norm = nn.LayerNorm(hidden, eps=1e-6)
        mlp_hidden = int(hidden * config.fusion_mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(hidden, mlp_hidden),
            nn.GELU(),
            nn.Dropout(config.fusion_dropout),
            nn.Linear(mlp_hidden, hidden),
        )
        self.dropout = nn.Dropout(config.fusion_dropout)

    def forward(
        self, queries: torch.Tensor, tokens: torch.Tensor, token_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Update ``queries`` (B, Q, D) from ``tokens`` (B, L, D); return them and the attention (B, H, Q, L).

        ``token_mask`` (B, L) is True for tokens of present views; None when all are present.
        """
        attended, probs = self.attention(self.query_norm(queries), self.key_norm(tokens), token_mask)
        queries = queries + self.dropout(attended)
        queries = queries + self.dropout(self.mlp(self.mlp_norm(queries)))
        return queries, probs


class GravityViTCrossAttentionFusion(nn.Module):
    """Learned queries cross-attend over all tokens of all present views; attention mass gives view weights."""

    def __init__(self, config: GravityViTConfig) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.zeros(1, config.fusion_num_queries, config.hidden_size))
        self.layers = nn.ModuleList(GravityViTFusionLayer(config) for _ in range(config.fusion_depth))
        self.norm = nn.LayerNorm(config.hidden_size, eps=1e-6)

    def forward(
        self, view_tokens: torch.Tensor, view_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """Fuse ``view_tokens`` (B, V, T, D) (duration embedding added) under ``view_mask`` (B, V).

        Returns the normed queries (B, Q, D), view weights (B, V), the query states after each
        layer and the attention probabilities of each layer (B, H, Q, V*T).
        """
        batch, num_views, num_tokens, hidden = view_tokens.shape
        tokens = view_tokens.reshape(batch, num_views * num_tokens, hidden)
        token_mask = view_mask[:, :, None].expand(batch, num_views, num_tokens).reshape(batch, -1)
        # Each query starts from the mean of the present tokens (as CLIP's attention pooling does): the
        # fusion begins as mean pooling and the attention learns what to weigh more. From scratch this
        # trains several times faster than learned queries alone, which start with diffuse attention.
        if bool(view_mask.all()):
            token_mean = tokens.mean(1)
            token_mask = None  # every key present: no masking pass over the scores
        else:
            token_weights = view_mask.to(tokens.dtype)[:, :, None].expand(batch, num_views, num_tokens)
            token_weights = token_weights.reshape(batch, -1, 1)
            token_mean = (tokens * token_weights).sum(1) / token_weights.sum(1)
        queries = self.queries + token_mean[:, None, :]
        states, attentions = [], []
        view_weights = view_tokens.new_zeros(batch, num_views)
        for layer in self.layers:
            queries, probs = layer(queries, tokens, token_mask)
            states.append(queries)
            attentions.append(probs)
            # Attention mass per view: sum over the view's tokens, mean over heads and queries.
            view_weights = view_weights + probs.reshape(*probs.shape[:3], num_views, num_tokens).sum(-1).mean(
                (1, 2)
            )
        view_weights = view_weights / len(self.layers)
        return self.norm(queries), view_weights, tuple(states), tuple(attentions)


class GravityViTConcatFusion(nn.Module):
    """Concatenate the pooled view tokens in view order and project them back to the hidden size.

    A concatenation needs every slot filled: a masked view is replaced by a learned "missing view"
    token, so the projection sees a consistent input whatever is missing.
    """

    def __init__(self, config: GravityViTConfig) -> None:
        super().__init__()
        self.missing_view_token = nn.Parameter(torch.zeros(config.hidden_size))
        self.norm = nn.LayerNorm(config.num_views * config.hidden_size, eps=1e-6)
        self.projection = nn.Linear(config.num_views * config.hidden_size, config.hidden_size)

    def forward(self, pooled_views: torch.Tensor, view_mask: torch.Tensor) -> torch.Tensor:
        """Fuse pooled view tokens (B, V, D) under ``view_mask`` (B, V) into (B, D)."""
        filled = torch.where(
            view_mask[..., None], pooled_views, self.missing_view_token.to(pooled_views.dtype)
        )
        return self.projection(self.norm(filled.flatten(1)))


class GravityViTHead(nn.Module):
    """Classification head: dropout, linear, GELU, dropout, linear (or one linear layer when head_hidden_size=0)."""

    def __init__(self, config: GravityViTConfig) -> None:
        super().__init__()
        if config.head_hidden_size:
            self.layers = nn.Sequential(
                nn.Dropout(config.head_dropout),
                nn.Linear(config.hidden_size, config.head_hidden_size),
                nn.GELU(),
                nn.Dropout(config.head_dropout),
                nn.Linear(config.head_hidden_size, config.num_labels),
            )
        else:
            self.layers = nn.Sequential(
                nn.Dropout(config.head_dropout), nn.Linear(config.hidden_size, config.num_labels)
            )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """Map the pooled representation (B, D) to logits (B, num_labels)."""
        return self.layers(pooled)


class GravityViTPreTrainedModel(FiniteWeightsMixin, PreTrainedModel):
    """Weight initialisation, gradient checkpointing and loading shared by the GravityViT models.

    ``_init_weights`` initialises only GravityViT's own modules (fusion, head, duration embedding):
    the timm backbone keeps timm's initialisation or the weights loaded into it.
    """

    config: GravityViTConfig
    config_class = GravityViTConfig
    base_model_prefix = "gravityvit"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    supports_gradient_checkpointing = True
    # timm's attention layers call F.scaled_dot_product_attention themselves.
    _supports_sdpa = True
    _no_split_modules: ClassVar[list[str]] = ["GravityViTModel"]
    # Models saved before the unknown-score statistics existed load with them unfitted (zeros).
    _keys_to_ignore_on_load_missing: ClassVar[list[str]] = [r"unknown_statistics\."]
    # The loss is computed from the config inside forward; the Trainer passes no loss kwargs.
    accepts_loss_kwargs = False

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, GravityViTModel):
            init.trunc_normal_(module.duration_embedding, std=std)
        elif isinstance(module, GravityViTCrossAttentionFusion):
            init.trunc_normal_(module.queries, std=std)
        elif isinstance(module, GravityViTConcatFusion):
            init.trunc_normal_(module.missing_view_token, std=std)
        elif isinstance(module, GlitchFeatureStatistics):
            # Unfitted statistics (a model saved before they existed loads them so).
            for buffer in module.buffers(recurse=False):
                init.zeros_(buffer)
        if isinstance(
            module,
            (GravityViTFusionLayer, GravityViTCrossAttentionFusion, GravityViTConcatFusion, GravityViTHead),
        ):
            for child in module.modules():
                if isinstance(child, nn.Linear):
                    init.trunc_normal_(child.weight, std=std)
                    if child.bias is not None:
                        init.zeros_(child.bias)
                elif isinstance(child, nn.LayerNorm):
                    init.ones_(child.weight)
                    init.zeros_(child.bias)

    def _set_gradient_checkpointing(
        self, enable: bool = True, gradient_checkpointing_func=None, every_n_layers: int = 1
    ) -> None:
        # timm checkpoints its own blocks; the small fusion module is not worth checkpointing.
        for module in self.modules():
            if isinstance(module, GravityViTModel):
                module.backbone.set_grad_checkpointing(enable)

    def get_input_embeddings(self) -> None:
        """Vision model: there are no token embeddings."""
        return None


class GravityViTModel(GravityViTPreTrainedModel):
    """The GravityViT encoder: shared timm backbone, duration embedding and fusion; no head."""

    def __init__(self, config: GravityViTConfig) -> None:
        super().__init__(config)
        self.backbone = create_config_backbone(config)
        # The config leaves what the backbone decides (its width, its normalisation) to the backbone.
        resolve_backbone_fields(config, self.backbone)
        self.duration_embedding = nn.Parameter(torch.zeros(config.num_views, config.hidden_size))
        self.fusion: nn.Module | None = None
        if config.fusion == "cross_attention":
            self.fusion = GravityViTCrossAttentionFusion(config)
        elif config.fusion == "concat":
            self.fusion = GravityViTConcatFusion(config)
        self.post_init()

    def load_backbone_weights(self, path: str | Path) -> None:
        """Load ImageNet (or any) timm weights of ``config.backbone`` from a local file into the backbone.

        Reads the file with timm's loader and passes it through the backbone family's timm
        ``checkpoint_filter_fn``, so the position embedding is resampled to ``config.image_size`` and
        the patch embedding to the patch size; the classifier head is dropped. Every other key must
        match the backbone exactly. Call it after the model is
        built (``post_init`` does not touch the backbone, and the weights are saved with the model).

        Args:
            path (`str` or `Path`):
                A timm checkpoint: ``.safetensors``, ``.pth``, ``.pt`` or ``.bin``.

        Raises:
            FileNotFoundError: When the file does not exist.
            ValueError: When the suffix is unknown or the weights do not fit the backbone.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"backbone weights file not found: {path}")
        if path.suffix not in BACKBONE_WEIGHT_SUFFIXES:
            raise ValueError(f"backbone weights {path} must be one of {BACKBONE_WEIGHT_SUFFIXES} files")
        try:
            state = timm.models.load_state_dict(str(path))
        except Exception as error:  # safetensors / torch raise many types for corrupt files
            raise ValueError(f"could not read backbone weights {path}: {error}") from error
        backbone = self.backbone
        # The backbone family's own filter adapts foreign layouts: it resamples the position
        # embedding to config.image_size and the patch embedding to the patch size.
        filter_fn = getattr(sys.modules[type(backbone).__module__], "checkpoint_filter_fn", None)
        if filter_fn is not None:
            state = filter_fn(state, backbone)
        # The ImageNet classifier has no place in a num_classes=0 backbone.
        classifiers = (backbone.pretrained_cfg or {}).get("classifier", "head")
        for name in (classifiers,) if isinstance(classifiers, str) else tuple(classifiers):
            state = {
                k: v for k, v in state.items() if not k.startswith(f"{name}.") or k in backbone.state_dict()
            }
        try:
            missing, unexpected = backbone.load_state_dict(state, strict=False)
        except RuntimeError as error:  # shape mismatches
            raise ValueError(
                f"could not load {path} into backbone {self.config.backbone!r} "
                f"(backbone_kwargs={self.config.backbone_kwargs}): {error}"
            ) from error
        if missing or unexpected:
            raise ValueError(
                f"could not load {path} into backbone {self.config.backbone!r} "
                f"(backbone_kwargs={self.config.backbone_kwargs}): missing keys {list(missing)[:8]}, "
                f"unexpected keys {list(unexpected)[:8]}"
            )

    def encode_views(
        self, pixel_values: torch.Tensor, view_mask: torch.Tensor, pool: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the backbone ONCE over all present views of the batch.

        Args:
            pixel_values (`torch.Tensor` of shape `(B, V, 3, H, W)`):
                Normalised views.
            view_mask (`torch.BoolTensor` of shape `(B, V)`):
                True where a view is present; absent views are skipped, not computed.
            pool (`bool`, *optional*, defaults to `True`):
                Also pool each view's tokens; the cross-attention fusion reads the tokens only.

        Returns:
            `tuple(torch.Tensor)`: ``tokens`` `(B, V, T, D)`, the output tokens per view (T includes
            prefix tokens), zeros for absent views; and ``pooled`` `(B, V, D)`, the backbone's pooled
            token per view (timm ``forward_head(pre_logits=True)``), or None without ``pool``.
        """
        batch, num_views = view_mask.shape
        flat_pixels = pixel_values.flatten(0, 1)
        flat_mask = view_mask.flatten()
        all_present = bool(flat_mask.all())
        present = flat_pixels if all_present else flat_pixels[flat_mask]
        features = self.backbone.forward_features(present)
        pooled = self.backbone.forward_head(features, pre_logits=True) if pool else None
        if features.ndim == 4:  # convolutional backbones give (P, C, h, w) maps: use the positions as tokens
            features = features.flatten(2).transpose(1, 2)
        if all_present:
            tokens, pooled_views = features, pooled
        else:
            tokens = features.new_zeros(batch * num_views, *features.shape[1:])
            tokens[flat_mask] = features
            pooled_views = None
            if pooled is not None:
                pooled_views = pooled.new_zeros(batch * num_views, pooled.shape[-1])
                pooled_views[flat_mask] = pooled
        if pooled_views is not None:
            pooled_views = pooled_views.view(batch, num_views, -1)
        return tokens.view(batch, num_views, *features.shape[1:]), pooled_views

    def forward(
        self,
        pixel_values: torch.Tensor,
        view_mask: torch.Tensor | None = None,
        view_index: int | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> GravityViTModelOutput | tuple:
        r"""Encode and fuse the views of a batch.

        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch_size, num_views, 3, height, width)` or `(batch_size, 3, height, width)`):
                Normalised views from ``GravityViTImageProcessor``. A 4-D tensor is one view per
                sample: the only view when ``num_views == 1``, otherwise it fills slot ``view_index``
                and the other slots are masked.
            view_mask (`torch.BoolTensor` of shape `(batch_size, num_views)`, *optional*):
                True for present views; absent views are not computed and get no attention. Default:
                all present. Every sample needs at least one present view.
            view_index (`int`, *optional*):
                Slot of a 4-D ``pixel_values`` input; default the view nearest 1 s.
            output_attentions (`bool`, *optional*):
                Return the fusion attention probabilities.
            output_hidden_states (`bool`, *optional*):
                Return the view tokens and the query states after each fusion layer.
            return_dict (`bool`, *optional*):
                Return a ``GravityViTModelOutput`` (default) instead of a tuple.

        Raises:
            ValueError: for inputs of the wrong shape (the message gives the expected one) or a sample
                without any present view.
        """
        config = self.config
        output_attentions = output_attentions if output_attentions is not None else config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else config.return_dict
        pixel_values, view_mask = prepare_config_inputs(config, pixel_values, view_mask, view_index)
        pixel_values = pixel_values.to(self.duration_embedding.dtype)
        tokens, pooled_views = self.encode_views(
            pixel_values, view_mask, pool=config.fusion != "cross_attention"
        )
        duration = self.duration_embedding.to(tokens.dtype)
        attentions: tuple[torch.Tensor, ...] = ()
        fusion_states: tuple[torch.Tensor, ...] = ()
        if config.fusion == "cross_attention":
            fused, view_weights, fusion_states, attentions = self.fusion(
                tokens + duration[None, :, None, :], view_mask
            )
            pooled = fused.mean(dim=1)
        else:
            pooled_views = pooled_views + duration[None]
            if config.fusion == "mean":
                weights = view_mask.to(pooled_views.dtype)
                pooled = (pooled_views * weights[..., None]).sum(1) / weights.sum(1, keepdim=True)
            else:
                pooled = self.fusion(pooled_views, view_mask)
            fused = pooled[:, None]
            view_weights = uniform_view_weights(view_mask, pooled.dtype)
        hidden_states = (tokens, *fusion_states) if output_hidden_states else None
        attentions_out = attentions if output_attentions and attentions else None
        if not return_dict:
            return tuple(
                v for v in (fused, pooled, view_weights, hidden_states, attentions_out) if v is not None
            )
        return GravityViTModelOutput(
            last_hidden_state=fused,
            pooler_output=pooled,
            view_weights=view_weights,
            hidden_states=hidden_states,
            attentions=attentions_out,
        )


def uniform_view_weights(view_mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, V) weights uniform over the present views of ``view_mask`` and 0 for absent ones."""
    weights = view_mask.to(dtype)
    return weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)


class GravityViTForGlitchClassification(GravityViTPreTrainedModel):
    """GravityViT with an MLP head over the fused representation: the glitch classifier
    (one logit per class of ``config.id2label``).

    Example:

    ```python
    >>> import numpy as np
    >>> from gravityvit import GravityViTForGlitchClassification, GravityViTImageProcessor, get_named_config
    >>> config = get_named_config("gravityvit/multiview-demo")
    >>> model = GravityViTForGlitchClassification(config).eval()  # random weights
    >>> processor = GravityViTImageProcessor.from_config(config)
    >>> inputs = processor([np.random.rand(4, 140, 170).astype("float32")])
    >>> outputs = model(**inputs)
    >>> outputs.logits.shape, outputs.view_weights.shape
    (torch.Size([1, 22]), torch.Size([1, 4]))
    ```
    """

    def __init__(self, config: GravityViTConfig) -> None:
        super().__init__(config)
        self.gravityvit = GravityViTModel(config)
        self.head = GravityViTHead(config)
        # Class statistics of the pooled feature for the relative Mahalanobis unknown score.
        self.unknown_statistics = GlitchFeatureStatistics(config.num_labels, config.hidden_size)
        self.post_init()

    def load_backbone_weights(self, path: str | Path) -> None:
        """Load timm weights of the backbone from a local file (see ``GravityViTModel.load_backbone_weights``)."""
        self.gravityvit.load_backbone_weights(path)

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
        r"""Classify a batch of glitches.

        Args:
            pixel_values, view_mask, view_index, output_attentions, output_hidden_states:
                As in ``GravityViTModel.forward``.
            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Class indices in ``[0, num_labels)`` (-100 is ignored); when given, the loss is computed
                from the config (``label_smoothing``, ``focal_gamma``, ``class_weights``).
            return_dict (`bool`, *optional*):
                Return a ``GlitchClassifierOutput`` (default) instead of a tuple.
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.gravityvit(
            pixel_values,
            view_mask=view_mask,
            view_index=view_index,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.head(outputs.pooler_output)
        loss = None
        if labels is not None:
            loss = config_classification_loss(logits, labels, self.config)
        logits = scale_logits(logits, self.config)
        unknown_score = self.unknown_statistics(
            logits, outputs.pooler_output, getattr(self.config, "unknown_score_method", "energy")
        )
        if not return_dict:
            values = (
                loss,
                logits,
                outputs.view_weights,
                outputs.hidden_states,
                outputs.attentions,
                unknown_score,
            )
            return tuple(v for v in values if v is not None)
        return GlitchClassifierOutput(
            loss=loss,
            logits=logits,
            view_weights=outputs.view_weights,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            unknown_score=unknown_score,
        )


__all__ = [
    "GlitchClassifierOutput",
    "GravityViTForGlitchClassification",
    "GravityViTModel",
    "GravityViTModelOutput",
    "GravityViTPreTrainedModel",
]
