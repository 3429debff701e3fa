"""Training: SFT cold start and GSPO over trl, with the grounded rewards."""
