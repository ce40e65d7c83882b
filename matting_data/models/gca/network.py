"""GCA Matting's generator (Li & Lu, AAAI 2020) in plain torch, with the official state-dict names.

The released model (config ``gca-dist``) is ``Generator(encoder="resnet_gca_encoder_29",
decoder="res_gca_decoder_22")`` of Yaoyi-Li/GCA-Matting:

* encoder :class:`GCAEncoder` -- a ResNet-34-D style stem (three 3x3 convs, strides 2, 1, 2)
  on the 6-channel input (ImageNet-normalised RGB + one-hot trimap), residual stages
  ``layer1`` (64, 3 blocks), ``layer2`` (128, 4), ``layer3`` (256, 4), ``layer_bottleneck``
  (512, 2; the last stage at 1/32), the down-sampling shortcut ``AvgPool2d -> 1x1 conv -> BN``,
  five ``shortcut`` branches (two 3x3 conv + ReLU + BN each) that feed the decoder, a
  ``guidance_head`` (three reflect-padded stride-2 convs on the RGB channels, 1/8 resolution,
  128 channels) and a guided contextual attention block ``gca`` after ``layer2``;
* decoder :class:`GCADecoder` -- residual up-sampling stages ``layer1..4`` (256, 128, 64, 32
  channels; 2, 3, 3, 2 blocks; the first block of each up-samples with a 4x4 transposed conv
  and ``nearest x2 -> 1x1 conv -> BN`` on the identity path), each added to the matching
  encoder shortcut, a second ``gca`` after ``layer2``, then a transposed conv to full
  resolution, BN, LeakyReLU(0.2) plus the full-resolution shortcut, a 3x3 conv and
  ``alpha = (tanh(x) + 1) / 2``.

Every conv except the GCA's own 1x1 convs and the last 3x3 conv is wrapped in the
official :class:`SpectralNorm`, which replaces the conv's ``weight`` parameter by
``weight_u`` (left singular vector estimate), ``weight_v`` (right) and ``weight_bar``
(the raw weight), stored under ``<conv>.module.*``; this reproduces the released key
names exactly (``/work/shared/spec/checkpoints/gca-dist.json``).  ``width`` scales all
channel counts for tiny test networks (``width=64`` is the released network).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


def _l2normalize(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return v / (v.norm() + eps)


class SpectralNorm(nn.Module):
    """Spectral normalisation of ``module.weight`` with the official parameter layout.

    The wrapped conv keeps ``weight_u`` (out,), ``weight_v`` (in * k * k,) and
    ``weight_bar`` (the weight's shape) as parameters (``u`` and ``v`` without gradient).
    In training mode one power iteration updates ``u`` and ``v`` before each forward;
    in eval mode they are used as stored.  The conv then runs with ``weight_bar / sigma``,
    ``sigma = u . (W v)`` (W = ``weight_bar`` flattened to (out, -1); for a transposed conv
    the first dimension is its input channels, as in the official code).
    """

    def __init__(self, module: nn.Conv2d | nn.ConvTranspose2d) -> None:
        super().__init__()
        self.module = module
        w = module.weight.detach()
        height = w.shape[0]
        width = w.reshape(height, -1).shape[1]
        u = _l2normalize(w.new_empty(height).normal_(0, 1))
        v = _l2normalize(w.new_empty(width).normal_(0, 1))
        del module._parameters["weight"]
        module.register_parameter("weight_u", nn.Parameter(u, requires_grad=False))
        module.register_parameter("weight_v", nn.Parameter(v, requires_grad=False))
        module.register_parameter("weight_bar", nn.Parameter(w.clone()))

    def normalised_weight(self) -> torch.Tensor:
        m: Any = self.module
        w: torch.Tensor = m.weight_bar
        w2 = w.reshape(w.shape[0], -1)
        u, v = m.weight_u, m.weight_v
        if self.training:
            with torch.no_grad():
                v.data = _l2normalize(torch.mv(w2.detach().t(), u.data))
                u.data = _l2normalize(torch.mv(w2.detach(), v.data))
        sigma = u.dot(w2.mv(v))
        return w / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m: Any = self.module
        w = self.normalised_weight()
        if isinstance(self.module, nn.ConvTranspose2d):
            return F.conv_transpose2d(x, w, m.bias, m.stride, m.padding, m.output_padding, m.groups, m.dilation)
        return F.conv2d(x, w, m.bias, m.stride, m.padding, m.dilation, m.groups)


def _sn_conv(cin: int, cout: int, k: int = 3, stride: int = 1, padding: int | None = None) -> SpectralNorm:
    pad = k // 2 if padding is None else padding
    return SpectralNorm(nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=False))


def _sn_deconv(cin: int, cout: int) -> SpectralNorm:
    return SpectralNorm(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False))


def _patches(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Reflect-padded patches: (N, C, H, W) -> (N, L, C, kernel, kernel), L = (H / stride) * (W / stride)."""
    left, right = (kernel - stride + 1) // 2, (kernel - stride) // 2
    x = F.pad(x, (left, right, left, right), mode="reflect")
    # the same values as x.unfold(2, k, s).unfold(3, k, s), from strided slices whose ends are relative
    # to the padded size, so that the ONNX exporter handles dynamic sizes (it cannot export unfold)
    cuts = [x[:, :, a:(a - kernel + 1) or None:stride, b:(b - kernel + 1) or None:stride]
            for a in range(kernel) for b in range(kernel)]
    p = torch.stack(cuts, dim=2)  # N, C, k * k, h, w
    n, c, _, h, w = p.shape
    return p.reshape(n, c, kernel, kernel, h, w).permute(0, 4, 5, 1, 2, 3).reshape(n, h * w, c, kernel, kernel)


def _paste_4x4_stride2(z: torch.Tensor) -> torch.Tensor:
    """``conv_transpose2d`` pasting of 4x4 patches at stride 2, padding 1, as sums of shifted grids.

    ``z`` (N, h, w, C, 4, 4): the patch contributed at each position -> (N, C, 2h, 2w).  Row
    ``2y + a - 1`` gets patch row ``a``; with ``a = 2q + r`` it lies on the parity-``r`` grid
    at ``y + q``.  Used only when tracing (a conv with a data-dependent kernel does not export).
    """
    n, h, w, c = z.shape[:4]
    grids = []
    for r in range(2):
        row = []
        for s in range(2):
            parts = [F.pad(z[:, :, :, :, 2 * q + r, 2 * p + s].permute(0, 3, 1, 2), (p, 1 - p, q, 1 - q))
                     for q in range(2) for p in range(2)]
            row.append(parts[0] + parts[1] + parts[2] + parts[3])
        grids.append(torch.stack(row, dim=-1))  # N, C, h + 1, w + 1, 2 (s)
    canvas = torch.stack(grids, dim=3)  # N, C, h + 1, 2 (r), w + 1, 2 (s)
    canvas = canvas.reshape(n, c, 2 * h + 2, 2 * w + 2)
    return canvas[:, :, 1:-1, 1:-1]


class GuidedCxtAtten(nn.Module):
    """Guided contextual attention: alpha features of known patches propagate to unknown ones.

    Affinities are cosine similarities between 3x3 patches of the (1x1-conv reduced, half
    resolution) image guidance features; they are scaled separately for unknown and known
    source patches by ``clamp(sqrt(unknown_share / known_share) ** +-1, 0.1, 10)``, a patch's
    attention to itself is suppressed (-1e4) when it is unknown, a softmax over all source
    patches gives the weights, and 4x4 alpha-feature patches (stride 2) are pasted back with a
    transposed conv (/4).  Output ``W(y) + alpha`` (1x1 conv + BN, initialised near 0).
    """

    def __init__(self, out_channels: int, guidance_channels: int, rate: int = 2) -> None:
        super().__init__()
        self.rate = rate
        self.guidance_conv = nn.Conv2d(guidance_channels, guidance_channels // 2, 1)
        conv, bn = nn.Conv2d(out_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
        self.W = nn.Sequential(conv, bn)
        nn.init.xavier_uniform_(self.guidance_conv.weight)
        gbias: Any = self.guidance_conv.bias
        nn.init.zeros_(gbias)
        nn.init.xavier_uniform_(conv.weight)
        nn.init.constant_(bn.weight, 1e-3)
        nn.init.zeros_(bn.bias)

    def _scales(self, unknown: torch.Tensor) -> torch.Tensor:
        """(N, 2): softmax scale for unknown and for known source patches."""
        u_mean = unknown.mean(dim=(2, 3))
        k_mean = 1 - u_mean
        u_scale = torch.clamp(torch.sqrt(u_mean / k_mean), 0.1, 10)
        k_scale = torch.clamp(torch.sqrt(k_mean / u_mean), 0.1, 10)
        return torch.cat([u_scale, k_scale], dim=1)

    def forward(self, f: torch.Tensor, alpha: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
        rate = self.rate
        f = self.guidance_conv(f)
        alpha_w = _patches(alpha, 2 * rate, rate)  # N, L, C, 4, 4
        f = F.interpolate(f, scale_factor=1 / rate, mode="nearest")
        n, _, h, w = f.shape
        big_l = h * w
        f_w = _patches(f, 3, 1)  # N, L, Cf, 3, 3
        unknown = F.interpolate(unknown, scale_factor=1 / rate, mode="nearest").to(alpha)
        if unknown.shape[2:] != f.shape[2:]:
            raise ValueError(f"GCA: unknown mask {tuple(unknown.shape[2:])} does not match features {(h, w)}")
        scales = self._scales(unknown).to(alpha)
        unknown_patch = _patches(unknown, 3, 1).mean(dim=(3, 4)).reshape(n, big_l) > 0  # N, L
        if torch.jit.is_tracing():
            return self.W(self._attend_batched(f, f_w, alpha_w, scales, unknown_patch.to(alpha))) + alpha
        diag = torch.arange(big_l, device=alpha.device)
        outs = []
        for i in range(n):
            wi = f_w[i]
            norm = wi.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt()
            wi = wi / torch.clamp(norm, min=1e-4)
            yi = F.conv2d(F.pad(f[i:i + 1], (1, 1, 1, 1), mode="reflect"), wi)  # 1, L, h, w
            mmi = unknown_patch[i].to(alpha)
            scale = scales[i, 0] * mmi + scales[i, 1] * (1 - mmi)
            yi = yi * scale.view(1, big_l, 1, 1)
            flat = yi.reshape(big_l, big_l).index_put((diag, diag), -1e4 * mmi, accumulate=True)
            yi = F.softmax(flat.reshape(1, big_l, h, w), dim=1)
            outs.append(F.conv_transpose2d(yi, alpha_w[i], stride=rate, padding=1) / 4.0)
        y = torch.cat(outs, dim=0)
        return self.W(y) + alpha


    @staticmethod
    def _attend_batched(f: torch.Tensor, f_w: torch.Tensor, alpha_w: torch.Tensor, scales: torch.Tensor,
                        mm: torch.Tensor) -> torch.Tensor:
        """The loop of :meth:`forward` with matrix products (exportable; equal up to rounding).

        The correlation of the normalised source patches with every reflect-padded 3x3 window is
        ``P_n @ P^T`` (P = the patches, one row per position), and the transposed-conv pasting of
        the alpha patches is a product followed by :func:`_paste_4x4_stride2`.
        """
        n, big_l = f_w.shape[:2]
        h, w = f.shape[2], f.shape[3]
        pf = f_w.reshape(n, big_l, -1)
        norm = pf.pow(2).sum(dim=2, keepdim=True).sqrt()
        y = torch.matmul(pf / torch.clamp(norm, min=1e-4), pf.transpose(1, 2))  # N, L (source), L (position)
        scale = scales[:, 0:1] * mm + scales[:, 1:2] * (1 - mm)
        y = y * scale[:, :, None]
        pos = torch.arange(big_l, device=f.device)
        eye = (pos[:, None] == pos[None, :]).to(y)
        y = F.softmax(y + eye[None] * (-1e4 * mm)[:, None, :], dim=1)
        c = alpha_w.shape[2]
        z = torch.matmul(y.transpose(1, 2), alpha_w.reshape(n, big_l, -1))  # N, L (position), C * 16
        return _paste_4x4_stride2(z.reshape(n, h, w, c, 4, 4)) / 4.0


class EncoderBlock(nn.Module):
    """ResNet basic block with spectral-normalised convs (ReLU)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _sn_conv(inplanes, planes, 3, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.activation = nn.ReLU(inplace=True)
        self.conv2 = _sn_conv(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.activation(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.activation(out + identity)


class DecoderBlock(nn.Module):
    """Up-sampling basic block: 4x4 transposed conv (stride 2) or 3x3 conv, then 3x3 conv (LeakyReLU 0.2)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, upsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _sn_deconv(inplanes, inplanes) if stride > 1 else _sn_conv(inplanes, inplanes)
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.activation = nn.LeakyReLU(0.2, inplace=True)
        self.conv2 = _sn_conv(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.upsample = upsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.activation(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.upsample is None else self.upsample(x)
        return self.activation(out + identity)


def _shortcut(cin: int, planes: int) -> nn.Sequential:
    return nn.Sequential(
        _sn_conv(cin, planes), nn.ReLU(inplace=True), nn.BatchNorm2d(planes),
        _sn_conv(planes, planes), nn.ReLU(inplace=True), nn.BatchNorm2d(planes),
    )


class GCAEncoder(nn.Module):
    """``resnet_gca_encoder_29``: ResNet-D stem + residual stages [3, 4, 4, 2] + shortcuts + GCA."""

    def __init__(self, width: int = 64, layers: tuple[int, ...] = (3, 4, 4, 2), in_channels: int = 6) -> None:
        super().__init__()
        c = [width // 2, width, width * 2, width * 4, width * 8]  # 32, 64, 128, 256, 512
        self.conv1 = _sn_conv(in_channels, c[0], 3, 2)
        self.conv2 = _sn_conv(c[0], c[0], 3, 1)
        self.conv3 = _sn_conv(c[0], c[1], 3, 2)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm2d(c[0]), nn.BatchNorm2d(c[0]), nn.BatchNorm2d(c[1])
        self.activation = nn.ReLU(inplace=True)
        self.inplanes = c[1]
        self.layer1 = self._make_layer(c[1], layers[0], 1)
        self.layer2 = self._make_layer(c[2], layers[1], 2)
        self.layer3 = self._make_layer(c[3], layers[2], 2)
        self.layer_bottleneck = self._make_layer(c[4], layers[3], 2)
        ins = [in_channels, c[0], c[1], c[2], c[3]]
        outs = [c[0], c[0], c[1], c[2], c[3]]
        self.shortcut = nn.ModuleList(_shortcut(i, o) for i, o in zip(ins, outs, strict=True))
        g = c[2]  # 128 guidance channels
        self.guidance_head = nn.Sequential(
            nn.ReflectionPad2d(1), _sn_conv(3, g // 8, 3, 2, 0), nn.ReLU(inplace=True), nn.BatchNorm2d(g // 8),
            nn.ReflectionPad2d(1), _sn_conv(g // 8, g // 4, 3, 2, 0), nn.ReLU(inplace=True), nn.BatchNorm2d(g // 4),
            nn.ReflectionPad2d(1), _sn_conv(g // 4, g, 3, 2, 0), nn.ReLU(inplace=True), nn.BatchNorm2d(g),
        )
        _init_weights(self, zero_last_bn=EncoderBlock)
        self.gca = GuidedCxtAtten(c[2], g)  # after the generic init: it has its own
        first: Any = self.conv1.module
        with torch.no_grad():  # the official init: the trimap channels of the first conv start at 0
            first.weight_bar[:, 3:] = 0

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample: nn.Module | None = None
        if stride != 1:
            downsample = nn.Sequential(nn.AvgPool2d(2, stride), _sn_conv(self.inplanes, planes, 1),
                                       nn.BatchNorm2d(planes))
        elif self.inplanes != planes:
            downsample = nn.Sequential(_sn_conv(self.inplanes, planes, 1), nn.BatchNorm2d(planes))
        blocks_ = [EncoderBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        blocks_ += [EncoderBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*blocks_)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor | tuple[torch.Tensor, ...]]]:
        out = self.activation(self.bn1(self.conv1(x)))
        x1 = self.activation(self.bn2(self.conv2(out)))  # 1/2
        out = self.activation(self.bn3(self.conv3(x1)))  # 1/4
        im_fea = self.guidance_head(x[:, :3])  # 1/8
        unknown = F.interpolate(x[:, 4:5], scale_factor=1 / 8, mode="nearest")
        x2 = self.layer1(out)
        x3 = self.gca(im_fea, self.layer2(x2), unknown)
        x4 = self.layer3(x3)
        out = self.layer_bottleneck(x4)
        feats = (x, x1, x2, x3, x4)
        shortcuts = tuple(s(t) for s, t in zip(self.shortcut, feats, strict=True))
        return out, {"shortcut": shortcuts, "image_fea": im_fea, "unknown": unknown}


class GCADecoder(nn.Module):
    """``res_gca_decoder_22``: residual up-sampling stages [2, 3, 3, 2] with shortcuts and a second GCA."""

    def __init__(self, width: int = 64, layers: tuple[int, ...] = (2, 3, 3, 2)) -> None:
        super().__init__()
        c = [width // 2, width, width * 2, width * 4, width * 8]
        self.inplanes = c[4]
        self.conv1 = _sn_deconv(c[0], c[0])
        self.bn1 = nn.BatchNorm2d(c[0])
        self.leaky_relu = nn.LeakyReLU(0.2, inplace=True)
        self.conv2 = nn.Conv2d(c[0], 1, 3, padding=1)
        self.tanh = nn.Tanh()
        self.layer1 = self._make_layer(c[3], layers[0])
        self.layer2 = self._make_layer(c[2], layers[1])
        self.layer3 = self._make_layer(c[1], layers[2])
        self.layer4 = self._make_layer(c[0], layers[3])
        _init_weights(self, zero_last_bn=DecoderBlock)
        self.gca = GuidedCxtAtten(c[2], c[2])  # after the generic init: it has its own

    def _make_layer(self, planes: int, blocks: int) -> nn.Sequential:
        upsample = nn.Sequential(nn.UpsamplingNearest2d(scale_factor=2), _sn_conv(self.inplanes, planes, 1),
                                 nn.BatchNorm2d(planes))
        blocks_ = [DecoderBlock(self.inplanes, planes, 2, upsample)]
        self.inplanes = planes
        blocks_ += [DecoderBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*blocks_)

    def forward(self, x: torch.Tensor, mid: dict) -> torch.Tensor:
        fea1, fea2, fea3, fea4, fea5 = mid["shortcut"]
        x = self.layer1(x) + fea5
        x = self.gca(mid["image_fea"], self.layer2(x) + fea4, mid["unknown"])
        x = self.layer3(x) + fea3
        x = self.layer4(x) + fea2
        x = self.leaky_relu(self.bn1(self.conv1(x))) + fea1
        return (self.tanh(self.conv2(x)) + 1.0) / 2.0


def _init_weights(module: nn.Module, zero_last_bn: type) -> None:
    """The official initialisation: Xavier-uniform convs, BN (1, 0), last BN of each block 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            w: Any = getattr(m, "weight_bar", None)
            nn.init.xavier_uniform_(m.weight if w is None else w)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, zero_last_bn):
            bn2: Any = getattr(m, "bn2")  # noqa: B009
            nn.init.zeros_(bn2.weight)


class GCAGenerator(nn.Module):
    """``Generator``: ``forward(image, trimap)`` -> alpha (N, 1, H, W) in [0, 1].

    ``image`` is ImageNet-normalised RGB (N, 3, H, W); ``trimap`` the one-hot
    (background, unknown, foreground) trimap (N, 3, H, W); H and W multiples of 32.
    """

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.encoder = GCAEncoder(width)
        self.decoder = GCADecoder(width)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        embedding, mid = self.encoder(torch.cat((image, trimap), dim=1))
        return self.decoder(embedding, mid)


class GCAExport(nn.Module):
    """The demo's test rule (:mod:`.inference`) as one traceable module (the ONNX export).

    ``forward(image, trimap)``: RGB (N, 3, H, W) in [0, 1] and trimap / 255 (N, 1, H, W) ->
    alpha (N, 1, H, W): classes (< 85, >= 170 of the 0..255 trimap) and one-hot, ImageNet
    normalisation, reflect padding (32 px on every side plus bottom / right to a multiple of 32,
    amounts from the input size; sides need more than the padding, as torch's reflect), the
    generator, known regions forced, crop.
    """

    mean: Any
    std: Any

    def __init__(self, network: GCAGenerator, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        from ..onnx_spec import side_padding

        h, w = image.shape[-2], image.shape[-1]
        level = torch.round(trimap * 255.0)
        fg, bg = (level >= 170).to(image.dtype), (level < 85).to(image.dtype)
        onehot = torch.cat((bg, 1.0 - fg - bg, fg), dim=1)
        pad = side_padding(image, 32, border=32)
        x = F.pad((image - self.mean) / self.std, pad, mode="reflect")
        t = F.pad(onehot, pad, mode="reflect")
        alpha = self.network(x, t)
        alpha = torch.where(t[:, 2:3] > 0.5, torch.ones_like(alpha), alpha)
        alpha = torch.where(t[:, 0:1] > 0.5, torch.zeros_like(alpha), alpha)
        return alpha[:, :, 32:, 32:][:, :, :h, :w]
