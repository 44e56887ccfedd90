"""Parts of the console benchmark (``benchmarks/console.py``): one module per console area."""
