"""Curriculum training for Video ReCap: datasets, samplers, collators, trainer and stages."""
