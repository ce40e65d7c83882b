"""Plain-torch backbones: torchvision key layout, stage shapes, strides."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from matting_data.models.backbones import (  # noqa: E402
    densenet,
    densenet121,
    resnet,
    resnet34,
    resnet50,
    resnet101,
)

# torchvision facts: key count of state_dict() (incl. BN num_batches_tracked) and parameter count.
RESNET_FACTS = {
    # depth: (state-dict keys, parameters)
    18: (122, 11_689_512),
    34: (218, 21_797_672),
    50: (320, 25_557_032),
    101: (626, 44_549_160),
}


@pytest.mark.parametrize("depth", sorted(RESNET_FACTS))
def test_resnet_torchvision_layout(depth):
    net = resnet(depth)
    sd = net.state_dict()
    n_keys, n_params = RESNET_FACTS[depth]
    assert len(sd) == n_keys
    assert sum(p.numel() for p in net.parameters()) == n_params
    assert list(sd)[:5] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"]
    assert tuple(sd["fc.weight"].shape) == (1000, net.stage_channels[-1])
    assert "layer1.0.downsample.0.weight" in sd if depth >= 50 else "layer1.0.downsample.0.weight" not in sd
    assert tuple(sd["layer2.0.downsample.0.weight"].shape) == (net.stage_channels[2], net.stage_channels[1], 1, 1)


def test_resnet_block_names():
    sd34, sd101 = resnet34().state_dict(), resnet101().state_dict()
    assert "layer3.5.conv2.weight" in sd34 and "layer3.6.conv1.weight" not in sd34
    assert "layer3.22.conv3.weight" in sd101 and "layer3.23.conv1.weight" not in sd101
    assert tuple(sd101["layer4.2.conv3.weight"].shape) == (2048, 512, 1, 1)


@pytest.mark.parametrize("ctor", [resnet34, resnet50])
def test_resnet_stages_strides(ctor):
    net = ctor().eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        outs = net.stages(x)
        logits = net(x)
    assert [tuple(o.shape[1:]) for o in outs] == [
        (c, 64 // s, 96 // s) for c, s in zip(net.stage_channels, (2, 4, 8, 16, 32), strict=True)
    ]
    assert logits.shape == (1, 1000)


def test_resnet_strict_roundtrip_and_headless():
    a, b = resnet34(), resnet34()
    b.load_state_dict(a.state_dict(), strict=True)
    headless = resnet50(include_top=False).eval()
    assert not any(k.startswith("fc.") for k in headless.state_dict())
    assert headless(torch.zeros(1, 3, 32, 32)).shape == (1, 2048, 1, 1)
    with pytest.raises(ValueError):
        resnet(42)


def test_densenet121_torchvision_layout():
    net = densenet121()
    sd = net.state_dict()
    assert len(sd) == 727  # torchvision densenet121().state_dict()
    assert sum(p.numel() for p in net.parameters()) == 7_978_856
    assert list(sd)[:2] == ["features.conv0.weight", "features.norm0.weight"]
    assert tuple(sd["features.denseblock1.denselayer6.conv1.weight"].shape) == (128, 224, 1, 1)
    assert tuple(sd["features.denseblock4.denselayer16.conv2.weight"].shape) == (32, 128, 3, 3)
    assert tuple(sd["features.transition3.conv.weight"].shape) == (512, 1024, 1, 1)
    assert tuple(sd["classifier.weight"].shape) == (1000, 1024)
    assert "features.norm5.running_var" in sd and "features.denseblock4.denselayer17.norm1.weight" not in sd


def test_densenet_stages_strides():
    net = densenet121().eval()
    with torch.no_grad():
        outs = net.stages(torch.randn(1, 3, 64, 96))
        logits = net(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (c, 64 // s, 96 // s) for c, s in zip(net.stage_channels, (2, 4, 8, 16, 32), strict=True)
    ]
    assert net.stage_channels == (64, 256, 512, 1024, 1024)
    assert logits.shape == (1, 1000)
    with pytest.raises(ValueError):
        densenet(120)
