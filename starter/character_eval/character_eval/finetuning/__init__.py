"""Fine-tuning on Together AI: data preparation and jobs."""
