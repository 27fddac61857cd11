"""Recall: which remembered lines answer a prompt (the query side), and the background work
that makes lines findable (the writing side). See docs/memory.md.

Query side (a server's request threads; never imports the writing side):
  fusion.py (Recaller: the paths fused, exchanges, distinct texts, dates), bm25.py
  (morpheme BM25), lexical.py (term choice, trigram pool), dense.py (graph + newest vectors),
  embed.py (e5), terms.py + analyzer_process.py (Kiwi, in a child process), lines.py
  (hits and their exchanges), distinct.py, when.py (dates and time windows),
  store.py (the recall database: every table, meta key and file name).
Writing side (the background indexer process): enrich.py (morphemes and vectors per part),
  graph.py (the HNSW graph it saves), indexer.py (the process), background.py (the server's
  threads that start it and the analyzer), vector_scrub.py (wiping forgotten vectors).
"""
