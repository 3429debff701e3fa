"""A synthetic grounded-video world: procedurally generated videos with exact ground truth."""
