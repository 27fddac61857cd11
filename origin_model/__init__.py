"""The origin\x27s own nano language model: training on the memory archive and export (torch; never imported by the server)."""
