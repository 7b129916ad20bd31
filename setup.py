"""Packaging for transformers-recap (Video ReCap for the Hugging Face ecosystem)."""

from pathlib import Path

from setuptools import find_packages, setup


ROOT = Path(__file__).parent

setup(
    name="transformers-recap",
    version="0.1.0",
    description="Video ReCap: recursive hierarchical captioning of hour-long videos, Hugging Face-native",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8") if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    include_package_data=True,
    package_data={"transformers_recap": ["demo_model/*", "metrics/*/*.py", "metrics/*/*.md", "metrics/*/*.txt"]},
    python_requires=">=3.10",
    install_requires=[
        # torch and torchvision come first and pinned on these machines (see README, .ci/run); timm needs torchvision.
        "torch>=2.6",
        "torchvision",
        # v5 API: dataclass configs, `cache` keyword (the `past_key_values` alias is removed in 5.40).
        "transformers>=5.24,<5.40",
        "accelerate>=1.10",
        "datasets>=5.0",
        "peft>=0.17",
        "evaluate>=0.4.6",
        "huggingface-hub>=1.0",
        "timm>=1.0.20",
        "av>=14",
        "safetensors>=0.6",
        "tokenizers>=0.22",
        "numpy",
        "tqdm",
        "psutil>=5.9",
        "pyyaml",
        "rouge-score>=0.1.2",
        "pycocoevalcap>=1.2",
        # the stemmer of the no-LLM question-answering baseline
        "nltk",
    ],
    extras_require={
        "dev": ["pytest>=8", "ruff>=0.6", "selenium>=4.11", "parameterized"],
    },
    entry_points={"console_scripts": ["transformers-recap=transformers_recap.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
