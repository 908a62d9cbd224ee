"""People's rights: consent, information notice, data export, erasure, retention."""
