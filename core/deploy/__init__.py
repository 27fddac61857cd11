"""Deploy tools: the models manifest, fetch-models, the VRAM plan, scan and the deploy zip."""
