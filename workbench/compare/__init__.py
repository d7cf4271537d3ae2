"""Comparing models on the user's own job: run, blind view, votes, leaderboard, export."""
