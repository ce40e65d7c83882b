"""BackgroundMattingV2 networks in plain torch, with the official module names.

Written from the description and code of PeterL1n/BackgroundMattingV2 (``model/model.py``,
``model/decoder.py``, ``model/refiner.py``, ``model/mobilenet.py``, ``model/resnet.py``); the
``state_dict`` keys and shapes equal the released checkpoints (``backbone.*`` / ``aspp.*`` /
``decoder.*`` / ``refiner.*``), so they load strictly.

* :class:`MattingBaseNet` -- encoder (MobileNetV2 at output stride 16, or ResNet-50/101 with a
  dilated last stage) on the 6-channel image + background, torchvision's DeepLabV3 ASPP
  (rates 3, 6, 9) and a 4-step decoder predicting 37 channels: alpha (1), foreground residual
  (3), error (1), hidden features (32).
* :class:`MattingRefineNet` -- the base at ``backbone_scale`` of the input, then a
  :class:`Refiner` that re-predicts alpha and foreground on 4x4 patches chosen by the error
  map (``sampling``: the top ``sample_pixels / 16`` quarter-resolution locations; ``thresholding``:
  where error > threshold; ``full``: everywhere with plain convolutions).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..backbones.mobilenetv2 import MobileNetV2
from ..backbones.resnet import ResNet, resnet

BACKBONES = ("mobilenetv2", "resnet50", "resnet101")
REFINE_MODES = ("full", "sampling", "thresholding")


class _ASPPPooling(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        for m in self:
            x = m(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _conv_bn_relu(cin: int, cout: int, k: int, dilation: int = 1) -> nn.Sequential:
    pad = dilation if k == 3 else 0
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class ASPP(nn.Module):
    """torchvision DeepLabV3 ASPP layout: ``convs.0..4`` and ``project`` (256 channels)."""

    def __init__(self, cin: int, rates: tuple[int, int, int] = (3, 6, 9), cout: int = 256) -> None:
        super().__init__()
        mods: list[nn.Module] = [_conv_bn_relu(cin, cout, 1)]
        mods += [_conv_bn_relu(cin, cout, 3, r) for r in rates]
        mods.append(_ASPPPooling(cin, cout))
        self.convs = nn.ModuleList(mods)
        self.project = nn.Sequential(nn.Conv2d(len(mods) * cout, cout, 1, bias=False), nn.BatchNorm2d(cout),
                                     nn.ReLU(), nn.Dropout(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([c(x) for c in self.convs], 1))


class Decoder(nn.Module):
    """Four bilinear-upsample + concat + 3x3 conv steps from 1/16 to full resolution."""

    def __init__(self, channels: tuple[int, ...], feature_channels: tuple[int, ...]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(feature_channels[0] + channels[0], channels[1], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels[1])
        self.conv2 = nn.Conv2d(feature_channels[1] + channels[1], channels[2], 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels[2])
        self.conv3 = nn.Conv2d(feature_channels[2] + channels[2], channels[3], 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels[3])
        self.conv4 = nn.Conv2d(feature_channels[3] + channels[3], channels[4], 3, padding=1)
        self.relu = nn.ReLU(True)

    def forward(self, x4: torch.Tensor, x3: torch.Tensor, x2: torch.Tensor, x1: torch.Tensor,
                x0: torch.Tensor) -> torch.Tensor:
        x = x4
        for skip, conv, bn in ((x3, self.conv1, self.bn1), (x2, self.conv2, self.bn2), (x1, self.conv3, self.bn3)):
            x = F.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
            x = self.relu(bn(conv(torch.cat([x, skip], 1))))
        x = F.interpolate(x, size=x0.shape[2:], mode="bilinear", align_corners=False)
        return self.conv4(torch.cat([x, x0], 1))


def _encode(backbone: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(x4 at 1/16, x3 at 1/8, x2 at 1/4, x1 at 1/2, x0 = input), as the official encoders return."""
    if isinstance(backbone, ResNet):
        c1, c2, c3, _, c5 = backbone.stages(x)
        return c5, c3, c2, c1, x
    x1, x2, x3, x4 = backbone.stages(x)  # type: ignore[operator]
    return x4, x3, x2, x1, x


class MattingBaseNet(nn.Module):
    """BGMv2 ``MattingBase``: ``forward(src, bgr) -> (pha, fgr, err, hid)`` at the input resolution.

    ``src`` / ``bgr``: (N, 3, H, W) RGB in [0, 1], H and W divisible by 4.  ``pha`` and ``err``
    are clamped to [0, 1], ``fgr`` = residual + src clamped to [0, 1], ``hid`` (N, 32, H, W) >= 0.
    """

    def __init__(self, backbone: str = "resnet50", in_channels: int = 6, out_channels: int = 37) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"BGMv2 backbone must be one of {BACKBONES}, got {backbone!r}")
        self.backbone_name = backbone
        self.backbone: nn.Module
        if backbone == "mobilenetv2":
            self.backbone = MobileNetV2(in_channels=in_channels, include_top=False, output_stride=16)
            self.aspp = ASPP(320)
            self.decoder = Decoder((256, 128, 64, 48, out_channels), (32, 24, 16, in_channels))
        else:
            depth = 50 if backbone == "resnet50" else 101
            self.backbone = resnet(depth, in_channels=in_channels, include_top=False,
                                   replace_stride_with_dilation=[False, False, True])
            self.aspp = ASPP(2048)
            self.decoder = Decoder((256, 128, 64, 48, out_channels), (512, 256, 64, in_channels))

    def coarse(self, src: torch.Tensor, bgr: torch.Tensor) -> torch.Tensor:
        """The raw 37-channel decoder output on ``cat(src, bgr)``."""
        x4, *shortcuts = _encode(self.backbone, torch.cat([src, bgr], 1))
        return self.decoder(self.aspp(x4), *shortcuts)

    def forward(self, src: torch.Tensor, bgr: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.coarse(src, bgr)
        pha = x[:, 0:1].clamp(0.0, 1.0)
        fgr = (x[:, 1:4] + src).clamp(0.0, 1.0)
        err = x[:, 4:5].clamp(0.0, 1.0)
        hid = x[:, 5:].relu()
        return pha, fgr, err, hid


class Refiner(nn.Module):
    """BGMv2 patch refiner (``conv1..4``, ``bn1..3``; kernel 1 or 3).

    ``forward(src, bgr, pha, fgr, err, hid) -> (pha, fgr residual, ref)`` at full resolution;
    ``ref`` (N, 1, H/4, W/4) marks the refined 4x4 patches.  In ``sampling`` mode the number of
    patches is ``min(sample_pixels // 16, H/4 * W/4)`` (the official code fails with a top-k
    error on images under ``sample_pixels`` pixels; this takes all locations instead).
    """

    def __init__(self, mode: str = "sampling", sample_pixels: int = 80_000, threshold: float = 0.1,
                 kernel_size: int = 3, prevent_oversampling: bool = True) -> None:
        super().__init__()
        if mode not in REFINE_MODES:
            raise ValueError(f"BGMv2 refine mode must be one of {REFINE_MODES}, got {mode!r}")
        if kernel_size not in (1, 3):
            raise ValueError(f"BGMv2 refine kernel size must be 1 or 3, got {kernel_size}")
        self.mode = mode
        self.sample_pixels = int(sample_pixels)
        self.threshold = float(threshold)
        self.kernel_size = int(kernel_size)
        self.prevent_oversampling = bool(prevent_oversampling)
        ch = (32, 24, 16, 12, 4)
        self.conv1 = nn.Conv2d(ch[0] + 6 + 4, ch[1], kernel_size, bias=False)
        self.bn1 = nn.BatchNorm2d(ch[1])
        self.conv2 = nn.Conv2d(ch[1], ch[2], kernel_size, bias=False)
        self.bn2 = nn.BatchNorm2d(ch[2])
        self.conv3 = nn.Conv2d(ch[2] + 6, ch[3], kernel_size, bias=False)
        self.bn3 = nn.BatchNorm2d(ch[3])
        self.conv4 = nn.Conv2d(ch[3], ch[4], kernel_size, bias=True)
        self.relu = nn.ReLU(True)

    def select(self, err: torch.Tensor) -> torch.Tensor:
        """(N, 1, h, w) error -> float (N, 1, h, w) selection map (1 = refine this 4x4 patch)."""
        if self.mode == "sampling":
            n, _, h, w = err.shape
            flat = err.reshape(n, -1)
            k = min(self.sample_pixels // 16, flat.shape[1])
            idx = flat.topk(k, dim=1, sorted=False).indices
            ref = torch.zeros_like(flat).scatter_(1, idx, 1.0)
            if self.prevent_oversampling:
                ref = ref * flat.gt(0).to(ref.dtype)
            return ref.reshape(n, 1, h, w)
        return err.gt(self.threshold).to(err.dtype)

    @staticmethod
    def crop(x: torch.Tensor, idx: tuple[torch.Tensor, ...], size: int, padding: int) -> torch.Tensor:
        """Patches (P, C, size + 2 padding, same) at the selected (n, y, x) locations, stride ``size``.

        Gathers rows ``y * size + [0, win)`` and columns ``x * size + [0, win)`` of the padded input
        (the official ``unfold`` crop, written with index arithmetic so that it exports to ONNX).
        """
        if padding:
            x = F.pad(x, (padding,) * 4)
        win = torch.arange(size + 2 * padding, device=x.device)
        rows = (idx[1] * size)[:, None] + win[None]
        cols = (idx[2] * size)[:, None] + win[None]
        p = x.permute(0, 2, 3, 1)[idx[0][:, None, None], rows[:, :, None], cols[:, None, :]]
        return p.permute(0, 3, 1, 2)

    @staticmethod
    def replace(x: torch.Tensor, y: torch.Tensor, idx: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Write patches ``y`` (P, C, 4, 4) into ``x`` (N, C, H, W) at the selected locations."""
        n, c, h, w = x.shape
        ph, pw = y.shape[2:]
        v = x.reshape(n, c, h // ph, ph, w // pw, pw).permute(0, 2, 4, 1, 3, 5).clone()
        v[idx[0], idx[1], idx[2]] = y
        return v.permute(0, 3, 1, 4, 2, 5).reshape(n, c, h, w)

    def _head(self, x: torch.Tensor, y_half: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(torch.cat([x, y_half], 1))))
        return self.relu(self.bn2(self.conv2(x)))

    def _tail(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.conv4(self.relu(self.bn3(self.conv3(torch.cat([x, y], 1)))))

    def forward(self, src: torch.Tensor, bgr: torch.Tensor, pha: torch.Tensor, fgr: torch.Tensor,
                err: torch.Tensor, hid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hf, wf = src.shape[2:]
        half, quat = (hf // 2, wf // 2), (hf // 4, wf // 4)
        src_bgr = torch.cat([src, bgr], 1)
        k3 = self.kernel_size == 3
        if self.mode == "full":
            x = F.interpolate(torch.cat([hid, pha, fgr], 1), half, mode="bilinear", align_corners=False)
            y = F.interpolate(src_bgr, half, mode="bilinear", align_corners=False)
            if k3:
                x, y = F.pad(x, (3, 3, 3, 3)), F.pad(y, (3, 3, 3, 3))
            x = self._head(x, y)
            if k3:
                x = F.interpolate(x, (hf + 4, wf + 4), mode="bilinear", align_corners=False)
                y = F.pad(src_bgr, (2, 2, 2, 2))
            else:
                x, y = F.interpolate(x, (hf, wf), mode="nearest"), src_bgr
            out = self._tail(x, y)
            ref = torch.ones((src.shape[0], 1, *quat), device=src.device, dtype=src.dtype)
            return out[:, :1], out[:, 1:], ref
        err_q = F.interpolate(err, quat, mode="bilinear", align_corners=False)
        ref = self.select(err_q)
        nz = torch.nonzero(ref.squeeze(1))
        idx = (nz[:, 0], nz[:, 1], nz[:, 2])
        coarse = F.interpolate(torch.cat([pha, fgr], 1), (hf, wf), mode="bilinear", align_corners=False)
        if nz.shape[0] == 0:
            return coarse[:, :1], coarse[:, 1:], ref
        x = F.interpolate(torch.cat([hid, pha, fgr], 1), half, mode="bilinear", align_corners=False)
        x = self.crop(x, idx, 2, 3 if k3 else 0)
        y = self.crop(F.interpolate(src_bgr, half, mode="bilinear", align_corners=False), idx, 2, 3 if k3 else 0)
        x = F.interpolate(self._head(x, y), size=(8, 8) if k3 else (4, 4), mode="nearest")
        x = self._tail(x, self.crop(src_bgr, idx, 4, 2 if k3 else 0))
        out = self.replace(coarse, x, idx)
        return out[:, :1], out[:, 1:], ref


class MattingRefineNet(MattingBaseNet):
    """BGMv2 ``MattingRefine``: ``forward(src, bgr) -> (pha, fgr, pha_sm, fgr_sm, err_sm, ref_sm)``.

    The base runs on the inputs resized (bilinear) to ``int(H * backbone_scale)`` x
    ``int(W * backbone_scale)``; the refiner brings alpha and foreground back to (H, W).
    """

    def __init__(self, backbone: str = "resnet50", backbone_scale: float = 0.25, refine_mode: str = "sampling",
                 refine_sample_pixels: int = 80_000, refine_threshold: float = 0.1,
                 refine_kernel_size: int = 3) -> None:
        if backbone_scale > 0.5:
            raise ValueError(f"BGMv2 backbone_scale must be <= 1/2, got {backbone_scale}")
        super().__init__(backbone)
        self.backbone_scale = float(backbone_scale)
        self.refiner = Refiner(refine_mode, refine_sample_pixels, refine_threshold, refine_kernel_size)

    def forward(self, src: torch.Tensor, bgr: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h, w = src.shape[2:]
        if h % 4 or w % 4:
            raise ValueError(f"BGMv2 needs sides divisible by 4, got {w}x{h}")
        # output size floor(side * scale), as the official int(side * scale) (kept dynamic in an ONNX trace)
        src_sm = F.interpolate(src, scale_factor=self.backbone_scale, mode="bilinear", align_corners=False,
                               recompute_scale_factor=True)
        bgr_sm = F.interpolate(bgr, scale_factor=self.backbone_scale, mode="bilinear", align_corners=False,
                               recompute_scale_factor=True)
        x = self.coarse(src_sm, bgr_sm)
        pha_sm = x[:, 0:1].clamp(0.0, 1.0)
        fgr_sm = x[:, 1:4]
        err_sm = x[:, 4:5].clamp(0.0, 1.0)
        hid_sm = x[:, 5:].relu()
        pha, fgr, ref_sm = self.refiner(src, bgr, pha_sm, fgr_sm, err_sm, hid_sm)
        pha = pha.clamp(0.0, 1.0)
        fgr = (fgr + src).clamp(0.0, 1.0)
        fgr_sm = (src_sm + fgr_sm).clamp(0.0, 1.0)
        return pha, fgr, pha_sm, fgr_sm, err_sm, ref_sm
