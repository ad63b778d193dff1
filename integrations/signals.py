"""Receivers that keep the schedule and the coverage flags current."""
