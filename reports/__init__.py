"""Printable reports: one data module and one print template per report (see registry)."""
