"""The pipeline's stage scripts, one per DVC stage, run as `python -m stages.<name>`."""
