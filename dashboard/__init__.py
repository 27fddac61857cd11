"""The desktop dashboard on a live server and its training runs.

Tk and matplotlib live here only; the server never imports this package.
"""
