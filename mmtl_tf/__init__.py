"""mmtl_tf: Meta Multi-task Learning (MMTL) for speech emotion recognition in TensorFlow/Keras.

Reference implementation of Cai et al., "Meta Multi-task Learning for Speech Emotion
Recognition", Interspeech 2020. See README.md for the two commands that run it and BUILD.md
for every design decision the paper leaves open.
"""

from mmtl_tf import quiet_start as _quiet_start

__version__ = "0.1.0"

# `python -m mmtl_tf.<command>` starts without TensorFlow's C++ start-up lines and with its BFC
# host allocator, and the prepare command with one intra-op thread (a library user's process is
# left alone); this must run before anything imports TensorFlow.
_quiet_start.quiet_command()
_quiet_start.command_allocator()
_quiet_start.command_threads()
