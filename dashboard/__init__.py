"""The desktop dashboard on a live server and its training runs (Tk, matplotlib; never imported by the server)."""
