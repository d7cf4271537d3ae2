"""engine/deepseek_v4/layer.py against transformers' own mHC, norms and residual mix: bitwise
in fp32."""
from __future__ import annotations

import pytest
import torch

from engine.deepseek_v4 import layer as v4_layer

from v4_pairs import build_reference


@pytest.mark.parametrize("hc_mult", [2, 4])
def test_hc_weights_and_mix_are_bitwise_transformers(hc_mult):
    model = build_reference({"hc_mult": hc_mult, "num_hidden_layers": 1,
                             "layer_types": ["sliding_attention"]})
    layer = model.model.layers[0]
    g = torch.Generator().manual_seed(hc_mult)
    with torch.no_grad():
        for hc in (layer.attn_hc, layer.ffn_hc):  # random mixing weights, not the init's
            hc.fn.normal_(0, 0.5, generator=g)
            hc.base.normal_(0, 0.5, generator=g)
            hc.scale.normal_(0, 1.0, generator=g)
        streams = torch.randn(1, 37, hc_mult, model.config.hidden_size, generator=g)
        out = torch.randn(1, 37, model.config.hidden_size, generator=g)
        want = layer.attn_hc(streams)
        got = v4_layer.hc_weights(layer.attn_hc, streams)
        for w, o in zip(want, got):
            assert torch.equal(w, o)
        post, comb, _ = want
        mixed = post.unsqueeze(-1) * out.unsqueeze(-2) + torch.matmul(comb.transpose(-1, -2),
                                                                      streams)
        assert torch.equal(v4_layer.hc_mix(post, comb, out, streams), mixed)
        assert not torch.equal(v4_layer.hc_mix(post, comb, -out, streams), mixed)


def test_rms_norms_are_bitwise_transformers():
    model = build_reference({"num_hidden_layers": 1, "layer_types": ["sliding_attention"]})
    layer, attn = model.model.layers[0], model.model.layers[0].self_attn
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        layer.input_layernorm.weight.normal_(1, 0.3, generator=g)
        x = torch.randn(1, 50, model.config.hidden_size, generator=g) * 3
        q = torch.randn(1, 50, 4, model.config.head_dim, generator=g)
        assert torch.equal(v4_layer.rms_norm(layer.input_layernorm, x), layer.input_layernorm(x))
        assert torch.equal(v4_layer.rms_norm(attn.q_b_norm, q), attn.q_b_norm(q))
        bf16 = q.bfloat16()
        assert torch.equal(v4_layer.rms_norm(attn.q_b_norm, bf16), attn.q_b_norm(bf16))
