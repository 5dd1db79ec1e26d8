"""Installs mmtl_tf. Versions are the tested range; BUILD.md says why each is pinned."""

import setuptools

setuptools.setup(
    name="mmtl_tf",
    version="0.1.0",
    description="Meta Multi-task Learning for speech emotion recognition (Interspeech 2020) "
                "in TensorFlow/Keras",
    packages=setuptools.find_packages(include=["mmtl_tf", "mmtl_tf.*"]) + ["mmtl_tf.flags"],
    # The presets (--preset=demo) ship inside the package as mmtl_tf/flags/*.cfg; a source
    # checkout reads them from flags/ (cli_flags.presets_dir).
    package_dir={"mmtl_tf.flags": "flags"},
    package_data={"mmtl_tf.flags": ["*.cfg"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.10,<4",
        "tensorboard>=2.21,<2.22",
        "numpy>=1.26,<3",
        "scipy>=1.11",
        "scikit-learn>=1.4",
        "absl-py>=2.1",
        "matplotlib>=3.8",
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5", "hypothesis>=6.100"],
        "bench": ["librosa>=0.10"],
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
    },
)
