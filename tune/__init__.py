"""`echo-brain tune`: a LoRA adapter for a circuit's own GGUF, learned from the memory archive.

torch lives here and in origin_model only; the server never imports this package.
"""
