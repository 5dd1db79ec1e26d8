"""The settings each preset gives a run, for `report` to tell a preset's run from a changed one.

A preset is a flagfile (flags/<name>.cfg) laid over the flag defaults (`presets.with_preset`), so
a preset's settings are what `main --preset=<name>` alone would record in config.json. They
are built here, in the flag layer, from a private set of `main`'s flags (the process' FLAGS are
left alone), and handed to `reporting` as plain data: reports load no TensorFlow.
"""

import functools

from absl import flags

from mmtl_tf import cli_flags, flag_configs, presets
from mmtl_tf.report_variants import run_settings


@functools.lru_cache(maxsize=None)
def preset_run_settings(name: str) -> dict:
    """`report_variants.run_settings` of a run started with `--preset=<name>` and no other flag.

    Raises:
      app.UsageError: no such preset (the message lists the presets).
    """
    flag_values = flags.FlagValues()
    cli_flags.define_command(cli_flags.MAIN, flag_values)
    flag_values(presets.with_preset(["main", f"--preset={name}"], flag_values))
    experiment = flag_configs.experiment_config_from_flags(flag_values, tfrecord_dir="",
                                                           run_dir="", fold=1)
    return run_settings({"experiment": experiment.to_dict()})


def preset_defaults(names) -> dict:
    """{name: `preset_run_settings(name)`} for the names that are presets of this checkout
    (others, such as "custom", are left out: nothing to compare with)."""
    known = set(presets.available_presets())
    return {name: preset_run_settings(name) for name in sorted(set(names)) if name in known}
