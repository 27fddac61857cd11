"""The origin's own nano language model: trained on the memory archive, exported for llama.cpp.

Uses torch; nothing in the server imports it.
"""
