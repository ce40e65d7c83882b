"""Dataset adapters, splits, privacy obfuscation, tracks and HuggingFace export."""
