"""The GFM network (Li et al., "Bridging Composite and Real: Towards End-to-end Deep Image Matting", IJCV 2022).

Written from the official ``core/gfm.py`` (JizhiziLi/GFM) so that the released
state dicts load with ``strict=True`` and no renaming: module names, registration
order and shapes are the official ones.  As in the official code, the torchvision
backbone is kept whole as ``self.resnet`` / ``self.densenet`` and its layers are
*reused* (the same module objects) as ``encoder0`` .. ``encoder4``, so every encoder
tensor appears twice in ``state_dict()`` (``resnet.layer2.0.conv1.weight`` is
``encoder2.0.conv1.weight``).  Backbone parts the forward pass never uses stay in
the state dict (``resnet.fc``, DenseNet's ``norm5`` and ``classifier``, and for
``r34_2b`` also ``resnet.conv1`` / ``resnet.bn1``), because the released files hold them.

Structure (strides for ``r34``/``r101``/``d121``; ``r34_2b`` has a stride-1 3x3 stem,
keeps ``layer1`` at stride 1 and adds two stages ``encoder5``/``encoder6`` of three
BasicBlocks after a 2x2 max-pool each):

* shared encoder E0..E4 (strides 2, 4, 8, 16, 32);
* glance decoder: pyramid pooling (bins 1, 3, 5) on the deepest stage, then decoder
  blocks of three 3x3 convs + 2x bilinear upsample, each fed the concatenation of the
  previous block and an upsampled PPM branch (``psp4`` .. ``psp1``); sigmoid output with
  3 channels (TT) or 2 (FT/BT);
* focus decoder: bridge block (three dilated 3x3 convs) on the deepest stage, then
  U-Net decoder blocks with encoder skips; sigmoid output with 1 channel;
* collaborative matting (:func:`collaborative_matting`) fuses them; RIM predicts all
  three representations and merges their fusions with ``rim`` (1x1 conv, SE layer,
  1x1 conv; no output activation, as published).

:meth:`GFMNet.forward` returns exactly what the official ``forward`` returns:
``(glance, focus, fusion)``, or for RIM
``[[g_tt, f_tt, fu_tt], [g_ft, f_ft, fu_ft], [g_bt, f_bt, fu_bt], fusion]``.
The input is RGB on 0..255 without normalisation.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones.densenet import densenet121
from ..backbones.resnet import BasicBlock, resnet34, resnet101

BACKBONES = ("r34", "r34_2b", "d121", "r101")
ROSTAS = ("tt", "ft", "bt", "rim")
#: glance output channels per representation
GLANCE_CHANNELS = {"tt": 3, "ft": 2, "bt": 2}


def conv_up_psp(in_channels: int, out_channels: int, up_sample: int) -> nn.Sequential:
    """PPM branch to a decoder stage: 3x3 conv + BN + ReLU + bilinear upsample (official ``conv_up_psp``)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Upsample(scale_factor=up_sample, mode="bilinear", align_corners=False),
    )


def build_bb(in_channels: int, mid_channels: int, out_channels: int) -> nn.Sequential:
    """Bridge block: three dilated (2) 3x3 convs with BN + ReLU (official ``build_bb``)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, mid_channels, 3, dilation=2, padding=2),
        nn.BatchNorm2d(mid_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid_channels, out_channels, 3, dilation=2, padding=2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, dilation=2, padding=2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def build_decoder(in_channels: int, mid_channels_1: int, mid_channels_2: int, out_channels: int,
                  last_bnrelu: bool, upsample_flag: bool) -> nn.Sequential:
    """Decoder block: three 3x3 convs (BN + ReLU between; after the last one when ``last_bnrelu``),
    then a 2x bilinear upsample when ``upsample_flag`` (official ``build_decoder``)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, mid_channels_1, 3, padding=1),
        nn.BatchNorm2d(mid_channels_1),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid_channels_1, mid_channels_2, 3, padding=1),
        nn.BatchNorm2d(mid_channels_2),
        nn.ReLU(inplace=True),
        nn.Conv2d(mid_channels_2, out_channels, 3, padding=1),
    ]
    if last_bnrelu:
        layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    if upsample_flag:
        # the official code leaves align_corners unset (None), i.e. False
        layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)]
    return nn.Sequential(*layers)


#: decoder channels (in, mid1, mid2, out) per stage, as in the official ``core/gfm.py``
_R34_DECODERS = {4: (1024, 512, 512, 256), 3: (512, 256, 256, 128), 2: (256, 128, 128, 64), 1: (128, 64, 64, 64)}
_R34_2B_DECODERS = {6: (1024, 512, 512, 512), 5: (1024, 512, 512, 512), **_R34_DECODERS}
_R101_DECODERS = {4: (4096, 2048, 1024, 1024), 3: (2048, 1024, 512, 512), 2: (1024, 512, 256, 256),
                  1: (512, 256, 128, 64)}
_D121_FOCUS_DECODERS = {4: (1024, 512, 512, 256), 3: (768, 256, 256, 128), 2: (384, 128, 128, 64),
                        1: (192, 64, 64, 64)}


class PSPModule(nn.Module):
    """Pyramid pooling: adaptive average pools + 1x1 convs, upsampled (align_corners=True), concatenated
    with the input, 1x1 bottleneck + ReLU."""

    def __init__(self, features: int, out_features: int = 1024, sizes: tuple[int, ...] = (1, 2, 3, 6)) -> None:
        super().__init__()
        self.stages = nn.ModuleList([self._make_stage(features, size) for size in sizes])
        self.bottleneck = nn.Conv2d(features * (len(sizes) + 1), out_features, kernel_size=1)
        self.relu = nn.ReLU()

    @staticmethod
    def _make_stage(features: int, size: int) -> nn.Sequential:
        prior = nn.AdaptiveAvgPool2d(output_size=(size, size))
        conv = nn.Conv2d(features, features, kernel_size=1, bias=False)
        return nn.Sequential(prior, conv)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        h, w = feats.size(2), feats.size(3)
        priors = [F.interpolate(stage(feats), size=(h, w), mode="bilinear", align_corners=True)
                  for stage in self.stages] + [feats]
        return self.relu(self.bottleneck(torch.cat(priors, 1)))


class SELayer(nn.Module):
    """Squeeze-and-excitation (reduction 4, no biases), as in the official RIM."""

    def __init__(self, channel: int, reduction: int = 4) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channel // reduction, channel, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _, _ = x.size()
        y = self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)
        return x * y.expand_as(x)


def glance_index(glance: torch.Tensor) -> torch.Tensor:
    """Argmax class of the glance output as a float (N, 1, H, W) map (ties: first class, as ``torch.max``)."""
    return torch.argmax(glance, 1, keepdim=True).to(glance.dtype)


def collaborative_matting(rosta: str, glance: torch.Tensor, focus: torch.Tensor) -> torch.Tensor:
    """The official ``util.collaborative_matting`` on the tensors' own device (no ``.cuda()``).

    TT: ``focus`` where the glance class is 1 (transition), 1 where it is 2 (foreground), 0 elsewhere.
    FT: ``min(class + focus, 1)``.  BT: ``max(class - focus, 0)``.  The glance enters only through
    its argmax, so no gradient flows from the fusion into the glance decoder (as published).
    """
    r = rosta.lower()
    index = glance_index(glance)
    if r == "tt":
        trimap_mask = (index == 1).to(focus.dtype)
        fg_mask = (index == 2).to(focus.dtype)
        return focus * trimap_mask + fg_mask
    if r == "bt":
        return torch.clamp(index - focus, min=0)
    if r == "ft":
        return torch.clamp(index + focus, max=1)
    raise ValueError(f"collaborative matting: unknown representation {rosta!r}")


class GFMNet(nn.Module):
    """GFM with the official module names; ``backbone`` in r34, r34_2b, d121, r101; ``rosta`` in tt, ft, bt, rim."""

    # registered by _psp_branches / _decoders under the official names (r34_2b also has stages 5 and 6)
    psp1: nn.Module
    psp2: nn.Module
    psp3: nn.Module
    psp4: nn.Module
    psp5: nn.Module
    psp6: nn.Module
    decoder1_g: nn.Module
    decoder2_g: nn.Module
    decoder3_g: nn.Module
    decoder4_g: nn.Module
    decoder5_g: nn.Module
    decoder6_g: nn.Module
    decoder1_f: nn.Module
    decoder2_f: nn.Module
    decoder3_f: nn.Module
    decoder4_f: nn.Module
    decoder5_f: nn.Module
    decoder6_f: nn.Module

    def __init__(self, backbone: str = "r34", rosta: str = "tt") -> None:
        super().__init__()
        backbone, rosta = str(backbone).lower(), str(rosta).lower()
        if backbone not in BACKBONES:
            raise ValueError(f"GFM backbone {backbone!r} not one of {BACKBONES}")
        if rosta not in ROSTAS:
            raise ValueError(f"GFM rosta {rosta!r} not one of {ROSTAS}")
        self.backbone = backbone
        self.rosta = rosta
        self.gd_channel = 3 if rosta == "tt" else 2
        rim = rosta == "rim"

        if backbone == "r34_2b":
            self.resnet = resnet34()
            self.encoder0 = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True))
            self.encoder1 = self.resnet.layer1
            self.encoder2 = self.resnet.layer2
            self.encoder3 = self.resnet.layer3
            self.encoder4 = self.resnet.layer4
            self.encoder5 = nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True),
                                          BasicBlock(512, 512), BasicBlock(512, 512), BasicBlock(512, 512))
            self.encoder6 = nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True),
                                          BasicBlock(512, 512), BasicBlock(512, 512), BasicBlock(512, 512))
            self.psp_module = PSPModule(512, 512, (1, 3, 5))
            self._psp_branches(512, {6: 512, 5: 512, 4: 256, 3: 128, 2: 64, 1: 64})  # psp1: in the files, unused
            self._decoders("g", _R34_2B_DECODERS, last_upsample=False)
            self.bridge_block = build_bb(512, 512, 512)
            self._decoders("f", _R34_2B_DECODERS, last_upsample=False)
            if rim:
                self.decoder0_g_tt = nn.Sequential(nn.Conv2d(64, 3, 3, padding=1))
                self.decoder0_g_ft = nn.Sequential(nn.Conv2d(64, 2, 3, padding=1))
                self.decoder0_g_bt = nn.Sequential(nn.Conv2d(64, 2, 3, padding=1))
                self.decoder0_f_tt = nn.Sequential(nn.Conv2d(64, 1, 3, padding=1))
                self.decoder0_f_ft = nn.Sequential(nn.Conv2d(64, 1, 3, padding=1))
                self.decoder0_f_bt = nn.Sequential(nn.Conv2d(64, 1, 3, padding=1))
            else:
                self.decoder0_g = nn.Sequential(nn.Conv2d(64, self.gd_channel, 3, padding=1))
                self.decoder0_f = nn.Sequential(nn.Conv2d(64, 1, 3, padding=1))

        elif backbone in ("r34", "r101"):
            self.resnet = resnet34() if backbone == "r34" else resnet101()
            self.encoder0 = nn.Sequential(self.resnet.conv1, self.resnet.bn1, self.resnet.relu)
            self.encoder1 = nn.Sequential(self.resnet.maxpool, self.resnet.layer1)
            self.encoder2 = self.resnet.layer2
            self.encoder3 = self.resnet.layer3
            self.encoder4 = self.resnet.layer4
            if backbone == "r34":
                self.psp_module = PSPModule(512, 512, (1, 3, 5))
                self._psp_branches(512, {4: 256, 3: 128, 2: 64, 1: 64})
                self._decoders("g", _R34_DECODERS)
                self.bridge_block = build_bb(512, 512, 512)
                self._decoders("f", _R34_DECODERS)
            else:  # r101: the official code registers the bridge block before the PPM branches
                self.psp_module = PSPModule(2048, 2048, (1, 3, 5))
                self.bridge_block = build_bb(2048, 2048, 2048)
                self._psp_branches(2048, {4: 1024, 3: 512, 2: 256, 1: 64})
                self._decoders("g", _R101_DECODERS)
                self._decoders("f", _R101_DECODERS)
            self._build_heads(rim)

        else:  # d121
            self.densenet = densenet121()
            f = dict(self.densenet.features.named_children())
            self.encoder0 = nn.Sequential(f["conv0"], f["norm0"], f["relu0"])
            self.encoder1 = nn.Sequential(f["denseblock1"], f["transition1"])
            self.encoder2 = nn.Sequential(f["denseblock2"], f["transition2"])
            self.encoder3 = nn.Sequential(f["denseblock3"], f["transition3"])
            self.encoder4 = nn.Sequential(f["denseblock4"], nn.Conv2d(1024, 512, 3, padding=1), nn.BatchNorm2d(512),
                                          nn.ReLU(inplace=True), nn.MaxPool2d(2, 2, ceil_mode=True))
            self.psp_module = PSPModule(512, 512, (1, 3, 5))
            self._psp_branches(512, {4: 256, 3: 128, 2: 64, 1: 64})
            self._decoders("g", _R34_DECODERS)
            self.bridge_block = build_bb(512, 512, 512)
            self._decoders("f", _D121_FOCUS_DECODERS)
            self._build_heads(rim)

        if rim:
            self.rim = nn.Sequential(nn.Conv2d(3, 16, 1), SELayer(16), nn.Conv2d(16, 1, 1))

    def _psp_branches(self, channels: int, outs: dict[int, int]) -> None:
        """``psp<i>``: the PPM output brought to stage ``i`` (up-sampled 2, 4, 8 ... times, capped at 32)."""
        for k, (i, out) in enumerate(outs.items()):
            setattr(self, f"psp{i}", conv_up_psp(channels, out, min(2 ** (k + 1), 32)))

    def _decoders(self, branch: str, specs: dict[int, tuple[int, int, int, int]], last_upsample: bool = True) -> None:
        """``decoder<i>_<branch>`` for the stages in ``specs`` (in, mid1, mid2, out channels), deepest first."""
        for i, (cin, m1, m2, cout) in specs.items():
            setattr(self, f"decoder{i}_{branch}", build_decoder(cin, m1, m2, cout, True, last_upsample or i != 1))

    def _build_heads(self, rim: bool) -> None:
        if rim:
            self.decoder0_g_tt = build_decoder(128, 64, 64, 3, False, True)
            self.decoder0_g_ft = build_decoder(128, 64, 64, 2, False, True)
            self.decoder0_g_bt = build_decoder(128, 64, 64, 2, False, True)
            self.decoder0_f_tt = build_decoder(128, 64, 64, 1, False, True)
            self.decoder0_f_ft = build_decoder(128, 64, 64, 1, False, True)
            self.decoder0_f_bt = build_decoder(128, 64, 64, 1, False, True)
        else:
            self.decoder0_g = build_decoder(128, 64, 64, self.gd_channel, False, True)
            self.decoder0_f = build_decoder(128, 64, 64, 1, False, True)

    @property
    def stride(self) -> int:
        """Input sides must be multiples of this (32 for every backbone)."""
        return 32

    def forward(self, x: torch.Tensor) -> Any:
        """RGB on 0..255 (N, 3, H, W), H and W multiples of 32 -> the official output structure."""
        two_b = self.backbone == "r34_2b"
        rim = self.rosta == "rim"
        e0 = self.encoder0(x)
        e1 = self.encoder1(e0)
        e2 = self.encoder2(e1)
        e3 = self.encoder3(e2)
        e4 = self.encoder4(e3)

        # glance decoder
        if two_b:
            e5 = self.encoder5(e4)
            e6 = self.encoder6(e5)
            psp = self.psp_module(e6)
            d6_g = self.decoder6_g(torch.cat((psp, e6), 1))
            d5_g = self.decoder5_g(torch.cat((self.psp6(psp), d6_g), 1))
            d4_g = self.decoder4_g(torch.cat((self.psp5(psp), d5_g), 1))
        else:
            psp = self.psp_module(e4)
            d4_g = self.decoder4_g(torch.cat((psp, e4), 1))
        d3_g = self.decoder3_g(torch.cat((self.psp4(psp), d4_g), 1))
        d2_g = self.decoder2_g(torch.cat((self.psp3(psp), d3_g), 1))
        d1_g = self.decoder1_g(torch.cat((self.psp2(psp), d2_g), 1))
        g_in = d1_g if two_b else torch.cat((self.psp1(psp), d1_g), 1)

        # focus decoder
        if two_b:
            bb = self.bridge_block(e6)
            d6_f = self.decoder6_f(torch.cat((bb, e6), 1))
            d5_f = self.decoder5_f(torch.cat((d6_f, e5), 1))
            d4_f = self.decoder4_f(torch.cat((d5_f, e4), 1))
        else:
            bb = self.bridge_block(e4)
            d4_f = self.decoder4_f(torch.cat((bb, e4), 1))
        d3_f = self.decoder3_f(torch.cat((d4_f, e3), 1))
        d2_f = self.decoder2_f(torch.cat((d3_f, e2), 1))
        d1_f = self.decoder1_f(torch.cat((d2_f, e1), 1))
        f_in = d1_f if two_b else torch.cat((d1_f, e0), 1)

        # collaborative matting
        if rim:
            outs = []
            for r in ("tt", "ft", "bt"):
                g = torch.sigmoid(getattr(self, f"decoder0_g_{r}")(g_in))
                f = torch.sigmoid(getattr(self, f"decoder0_f_{r}")(f_in))
                outs.append([g, f, collaborative_matting(r, g, f)])
            fusion = self.rim(torch.cat([o[2] for o in outs], 1))
            return [outs[0], outs[1], outs[2], fusion]
        glance = torch.sigmoid(self.decoder0_g(g_in))
        focus = torch.sigmoid(self.decoder0_f(f_in))
        return glance, focus, collaborative_matting(self.rosta, glance, focus)
