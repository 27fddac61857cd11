"""The memory: lines and cleaning, the archive tree, the search index, replay and appends.

Nothing here imports the orchestrator (`core.echo_brain`), the API or the CLI.
"""
