"""The origin's own nano language model: trained on the memory archive, exported as GGUF.

Import-light on purpose: torch, numpy and sentencepiece are imported by the submodules only,
which nothing in the server imports (`echo-brain train` loads them inside the command).
"""
