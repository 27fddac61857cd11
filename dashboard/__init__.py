"""The desktop dashboard on a live server and its training runs.

Uses Tk and matplotlib; nothing in the server imports it.
"""
