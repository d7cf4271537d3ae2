"""Where weights go and in what precision: LoadOptions and the load report (options.py),
accelerate offload (offload.py), bitsandbytes (quantization.py).
"""
