"""Integrated personal budgets warehouse."""
