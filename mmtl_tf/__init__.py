"""mmtl_tf: Meta Multi-task Learning (MMTL) for speech emotion recognition in TensorFlow/Keras.

Reference implementation of Cai et al., "Meta Multi-task Learning for Speech Emotion
Recognition", Interspeech 2020. See README.md for the two commands that run it and BUILD.md
for every design decision the paper leaves open.
"""

__version__ = "0.1.0"
