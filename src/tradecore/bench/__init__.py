"""In-process benchmarks that ship with the package (`tradecore bench ...`)."""
