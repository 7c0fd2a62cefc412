"""Abandoned-cart recovery: the steps and their rows, consent and suppressions, figures."""
