"""The tiers that run real torch/transformers — always in a child process, never in whyload's."""
