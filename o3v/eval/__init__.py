"""Evaluation: benchmark adapters, inference, scoring, voting and the report."""
