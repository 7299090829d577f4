"""Helpers shared by every test layer (real processes, the machine's pace)."""
