"""Exhibits: storage, hashing, type sniffing, thumbnails, OCR."""
