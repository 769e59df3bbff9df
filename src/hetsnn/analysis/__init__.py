"""Analyses of finished runs: exact Shapley values, fitted time-constant distributions."""
