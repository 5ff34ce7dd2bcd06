"""Machine learning for tradecore: offline training (numpy MLP with real backprop, a LightGBM
baseline), ONNX export and single-threaded onnxruntime inference for the live path, a model
registry with A/B routing, online updates with drift detection, and ensembles.

Layering: `ml` reads candles and features and builds models; it imports core and backtest (for
reports) but nothing of execution, risk or venues. The live strategy that uses a model lives in
`tradecore.strategies.ml_signal`. See docs/ml.md.
"""
