"""Command-line surface: parse, delegate, render. No decisions are made here."""
