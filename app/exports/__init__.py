"""Exports: rows.py (db → plain rows), xlsx.py and docx.py (rows → bytes)."""
