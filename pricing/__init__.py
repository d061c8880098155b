"""Data only: dated offer tables and the GPU spec table, with their sources (see README.md here)."""
