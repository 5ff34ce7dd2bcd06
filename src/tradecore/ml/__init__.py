"""Machine learning for tradecore: offline training (numpy MLP with real backprop, a LightGBM
baseline), ONNX export and single-threaded onnxruntime inference for the live path, a model
registry with A/B routing, online updates with drift detection, and ensembles.

Layering (DESIGN.md: ml -> _fast, core): nothing here imports execution, risk, venues or
backtest, except `ml/cli.py`, which is CLI layer and hands the backtest report writer to
`train`. The live strategy that uses a model lives in
`tradecore.strategies.ml_signal`. See docs/ml.md.
"""
