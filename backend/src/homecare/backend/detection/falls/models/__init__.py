"""Trained fall-model artefacts, one ``<position>.npz`` per sensor position (see ../MODEL_CARD.md)."""
