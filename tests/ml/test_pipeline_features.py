"""ML on the indicator feature pipeline: the adapter gives the pipeline's rows, live == batch,
and a model trained on them runs through onnxruntime like any other."""
from __future__ import annotations

import numpy as np
import pytest

from datafiles import sample_file
from tradecore.ml.features import (PipelineFeatures, feature_source_from_config, load_candles,
                                   schema_of)


@pytest.fixture(scope="module")
def candles():
    return load_candles(str(sample_file("coinbase_BTCUSD_1d_20141201_20191017.csv")))


def test_pipeline_source_gives_the_candle_families_and_live_equals_batch(candles):
    src = feature_source_from_config({"source": "FeatureSet"})
    assert isinstance(src, PipelineFeatures) and len(src.names) >= 100
    X = src.batch(candles)
    assert X.shape == (len(candles), len(src.names))
    live = src.live()
    for i in range(len(candles)):
        row = live.update(int(candles.ts_ns[i]), candles.open[i], candles.high[i],
                          candles.low[i], candles.close[i], candles.volume[i])
        np.testing.assert_array_equal(row, X[i])
    assert schema_of(src)["names"] == list(src.names)


def test_pipeline_source_refuses_book_families_for_candle_models():
    with pytest.raises(ValueError, match="candle families only"):
        PipelineFeatures(["returns", "book"])
    with pytest.raises(ValueError, match="unknown keys"):
        feature_source_from_config({"source": "FeatureSet", "featurez": []})


def test_train_on_the_indicator_pipeline_binds_the_model_to_its_schema(tmp_path, capsys):
    import json

    from tradecore.ml import cli
    p = tmp_path / "train.toml"
    p.write_text(f"""
[data]
path = "{sample_file('coinbase_BTCUSD_1d_20141201_20191017.csv')}"
[features]
source = "FeatureSet"
[model]
name = "mlp-pipeline"
epochs = 3
[baseline]
enabled = false
[walk_forward]
folds = 2
epochs = 2
[output]
dir = "{tmp_path / 'out'}"
registry = ""
""")
    assert cli.main(["train", "--config", str(p)]) == 0
    assert "onnx |diff|" in capsys.readouterr().out
    schema = json.loads((tmp_path / "out" / "feature_schema.json").read_text())
    assert schema["source"] == "PipelineFeatures" and len(schema["names"]) >= 100
