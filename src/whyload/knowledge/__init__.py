"""Data, not logic: BERT-family key -> shape specs, version landmarks, error texts."""
