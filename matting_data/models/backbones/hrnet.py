"""HRNet (W18 / W48 ...) in plain torch with PaddleSeg's parameter names (PP-Matting's backbone).

Written from the description of PaddleSeg's ``hrnet.py`` (``Matting/ppmatting/models/backbone``):
a two-conv stride-4 stem (``conv_layer1_1``, ``conv_layer1_2``), stage 1 of bottleneck blocks
(``la1``), then transition layers (``tr1..3``) and stages 2-4 (``st2..4``) of high-resolution
modules, each with parallel branches of basic blocks (``branches_func``) and a multi-scale
fusion (``fuse_func``).  Sub-layers carry PaddleSeg's generated names (``bb_layer2_1``,
``transition_tr1_layer_2``, ``stage_st3_4``, ``bb_st3_4_branch_layer_2_1``,
``residual_st3_4_layer_3_1_2`` ...) and every conv / batch-norm pair is ``_conv`` /
``_batch_norm``, so a Paddle state dict converted to tensors with its names kept loads
after renaming the batch-norm statistics (``_mean`` -> ``running_mean``, ``_variance`` ->
``running_var``; see :func:`paddle_to_torch_key`).

Paddle's ``padding='same'`` (used by the HRNet convs) pads a stride-2 3x3 conv on an even
input by 0 before and 1 after, unlike torch's symmetric padding; :class:`ConvBN` reproduces it.

``forward`` returns five feature maps: the stem conv at 1/2 (64 channels) and the four
branches of stage 4 at 1/4, 1/8, 1/16, 1/32 (``channels``, e.g. 18/36/72/144 for W18).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["HRNET_CONFIGS", "ConvBN", "HRNet", "HRNetConfig", "hrnet", "paddle_to_torch_key"]


@dataclass(frozen=True)
class HRNetConfig:
    """Blocks per module and channels of each stage (stage 1 has one branch of bottlenecks)."""

    stage1_blocks: int = 4
    stage1_channels: int = 64
    stage2: tuple[int, tuple[int, ...], tuple[int, ...]] = (1, (4, 4), (18, 36))
    stage3: tuple[int, tuple[int, ...], tuple[int, ...]] = (4, (4, 4, 4), (18, 36, 72))
    stage4: tuple[int, tuple[int, ...], tuple[int, ...]] = (3, (4, 4, 4, 4), (18, 36, 72, 144))


def _widths(w: int) -> dict[str, tuple[int, tuple[int, ...], tuple[int, ...]]]:
    return {"stage2": (1, (4, 4), (w, 2 * w)), "stage3": (4, (4, 4, 4), (w, 2 * w, 4 * w)),
            "stage4": (3, (4, 4, 4, 4), (w, 2 * w, 4 * w, 8 * w))}


#: PaddleSeg's HRNet_W18 / W48 (and a small test configuration, not a released one).
HRNET_CONFIGS: dict[str, HRNetConfig] = {
    "w18": HRNetConfig(**_widths(18)),  # type: ignore[arg-type]
    "w48": HRNetConfig(**_widths(48)),  # type: ignore[arg-type]
    "tiny": HRNetConfig(stage1_blocks=1, stage1_channels=8, stage2=(1, (1, 1), (4, 8)),
                        stage3=(1, (1, 1, 1), (4, 8, 16)), stage4=(1, (1, 1, 1, 1), (4, 8, 16, 32))),
}


def paddle_to_torch_key(key: str) -> str:
    """Rename a Paddle parameter name to torch's (BatchNorm ``_mean`` / ``_variance`` statistics)."""
    if key.endswith("._mean"):
        return key[: -len("_mean")] + "running_mean"
    if key.endswith("._variance"):
        return key[: -len("_variance")] + "running_var"
    return key


class ConvBN(nn.Module):
    """PaddleSeg ``ConvBN`` / ``ConvBNReLU``: ``_conv`` then ``_batch_norm`` (then ReLU when ``relu``).

    ``padding="same"`` pads like Paddle (extra row/column after when the total is odd).
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int | str = "same",
                 dilation: int = 1, bias: bool = True, relu: bool = True) -> None:
        super().__init__()
        self.same = padding == "same"
        self.k, self.stride, self.dilation = k, stride, dilation
        pad = 0 if self.same else int(padding)
        self._conv = nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=bias)
        self._batch_norm = nn.BatchNorm2d(cout)
        self.relu = relu

    def _same_pad(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):
            out = -(-size // self.stride)
            total = max((out - 1) * self.stride + self.dilation * (self.k - 1) + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads) if any(pads) else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same:
            x = self._same_pad(x)
        x = self._batch_norm(self._conv(x))
        return F.relu(x) if self.relu else x


class _Bottleneck(nn.Module):
    def __init__(self, cin: int, filters: int, downsample: bool) -> None:
        super().__init__()
        self.conv1 = ConvBN(cin, filters, 1, bias=False)
        self.conv2 = ConvBN(filters, filters, 3, bias=False)
        self.conv3 = ConvBN(filters, filters * 4, 1, bias=False, relu=False)
        self.conv_down = ConvBN(cin, filters * 4, 1, bias=False, relu=False) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = x if self.conv_down is None else self.conv_down(x)
        return F.relu(self.conv3(self.conv2(self.conv1(x))) + res)


class _Basic(nn.Module):
    def __init__(self, cin: int, filters: int) -> None:
        super().__init__()
        self.conv1 = ConvBN(cin, filters, 3, bias=False)
        self.conv2 = ConvBN(filters, filters, 3, bias=False, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(self.conv1(x)) + x)


class _Named(nn.Module):
    """A container whose children have PaddleSeg's generated names, kept in insertion order."""

    def add(self, name: str, module: nn.Module) -> nn.Module:
        self.add_module(name, module)
        return module


class _Layer1(_Named):
    def __init__(self, cin: int, filters: int, blocks: int, name: str) -> None:
        super().__init__()
        self.blocks = [self.add(f"bb_{name}_{i + 1}", _Bottleneck(cin if i == 0 else filters * 4, filters, i == 0))
                       for i in range(blocks)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b(x)
        return x


class _Transition(_Named):
    def __init__(self, cins: tuple[int, ...], couts: tuple[int, ...], name: str) -> None:
        super().__init__()
        self.funcs: list[nn.Module | None] = []
        for i, c in enumerate(couts):
            m: nn.Module | None = None
            if i < len(cins):
                if cins[i] != c:
                    m = self.add(f"transition_{name}_layer_{i + 1}", ConvBN(cins[i], c, 3, bias=False))
            else:
                m = self.add(f"transition_{name}_layer_{i + 1}", ConvBN(cins[-1], c, 3, stride=2, bias=False))
            self.funcs.append(m)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [xs[i] if f is None else f(xs[min(i, len(xs) - 1)]) for i, f in enumerate(self.funcs)]


class _Branches(_Named):
    def __init__(self, blocks: tuple[int, ...], channels: tuple[int, ...], name: str) -> None:
        super().__init__()
        self.lists = [[self.add(f"bb_{name}_branch_layer_{i + 1}_{j + 1}", _Basic(c, c)) for j in range(n)]
                      for i, (n, c) in enumerate(zip(blocks, channels, strict=True))]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = []
        for x, blocks in zip(xs, self.lists, strict=True):
            for b in blocks:
                x = b(x)
            outs.append(x)
        return outs


class _Fuse(_Named):
    def __init__(self, channels: tuple[int, ...], name: str) -> None:
        super().__init__()
        self.n = len(channels)
        self.funcs: dict[tuple[int, int], list[nn.Module]] = {}
        for i in range(self.n):
            for j in range(self.n):
                if j > i:
                    self.funcs[(i, j)] = [self.add(f"residual_{name}_layer_{i + 1}_{j + 1}",
                                                   ConvBN(channels[j], channels[i], 1, bias=False, relu=False))]
                elif j < i:
                    chain, cin = [], channels[j]
                    for k in range(i - j):
                        last = k == i - j - 1
                        cout = channels[i] if last else channels[j]
                        chain.append(self.add(f"residual_{name}_layer_{i + 1}_{j + 1}_{k + 1}",
                                              ConvBN(cin, cout, 3, stride=2, bias=False, relu=not last)))
                        cin = cout
                    self.funcs[(i, j)] = chain

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = []
        for i in range(self.n):
            r = xs[i]
            for j in range(self.n):
                if j == i:
                    continue
                y = xs[j]
                for f in self.funcs[(i, j)]:
                    y = f(y)
                if j > i:
                    y = F.interpolate(y, size=r.shape[-2:], mode="bilinear", align_corners=False)
                r = r + y
            outs.append(F.relu(r))
        return outs


class _Module(nn.Module):
    def __init__(self, blocks: tuple[int, ...], channels: tuple[int, ...], name: str) -> None:
        super().__init__()
        self.branches_func = _Branches(blocks, channels, name)
        self.fuse_func = _Fuse(channels, name)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.fuse_func(self.branches_func(xs))


class _Stage(_Named):
    def __init__(self, modules: int, blocks: tuple[int, ...], channels: tuple[int, ...], name: str) -> None:
        super().__init__()
        self.mods = [self.add(f"stage_{name}_{i + 1}", _Module(blocks, channels, f"{name}_{i + 1}"))
                     for i in range(modules)]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        for m in self.mods:
            xs = m(xs)
        return xs


class HRNet(nn.Module):
    """PaddleSeg-layout HRNet; ``forward(x) -> [stem 1/2, branch 1/4, 1/8, 1/16, 1/32]``."""

    def __init__(self, config: HRNetConfig | None = None, in_channels: int = 3) -> None:
        super().__init__()
        c = config or HRNET_CONFIGS["w18"]
        self.config = c
        self.conv_layer1_1 = ConvBN(in_channels, 64, 3, stride=2, bias=False)
        self.conv_layer1_2 = ConvBN(64, 64, 3, stride=2, bias=False)
        self.la1 = _Layer1(64, c.stage1_channels, c.stage1_blocks, "layer2")
        self.tr1 = _Transition((c.stage1_channels * 4,), c.stage2[2], "tr1")
        self.st2 = _Stage(*c.stage2, name="st2")
        self.tr2 = _Transition(c.stage2[2], c.stage3[2], "tr2")
        self.st3 = _Stage(*c.stage3, name="st3")
        self.tr3 = _Transition(c.stage3[2], c.stage4[2], "tr3")
        self.st4 = _Stage(*c.stage4, name="st4")
        #: Channels of the five outputs.
        self.feat_channels: tuple[int, ...] = (64, *c.stage4[2])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.conv_layer1_1(x)
        x = self.la1(self.conv_layer1_2(c1))
        xs = self.st2(self.tr1([x]))
        xs = self.st3(self.tr2(xs))
        xs = self.st4(self.tr3(xs))
        return [c1, *xs]


def hrnet(width: str = "w18", in_channels: int = 3) -> HRNet:
    """``"w18"``, ``"w48"`` (PaddleSeg HRNet_W18 / HRNet_W48) or ``"tiny"`` (tests only)."""
    if width not in HRNET_CONFIGS:
        raise ValueError(f"HRNet width must be one of {sorted(HRNET_CONFIGS)}, got {width!r}")
    return HRNet(HRNET_CONFIGS[width], in_channels)
