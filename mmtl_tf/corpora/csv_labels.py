"""A CSV corpus' emotion labels -> class indices: aliases, and the corpus' own label map.

A label matches a class of --classes case-insensitively, through `EMOTION_ALIASES` (IEMOCAP's
and other common short names: neu, hap, ang, sadness, ...). A corpus that spells its labels
otherwise (IEMOCAP exported to CSV with `exc` for excited, which the paper keeps apart and many
works merge into happy; EmoDB's letters; MSP-Podcast's A/H/S/N) maps them with
`--csv_emotion_map=excited=happy,W=angry` (`parse_emotion_map`): a mapped label takes its class
before any alias. Rows whose label matches no class are excluded and counted per label.
"""

# IEMOCAP (and other common) emotion names -> the class names used by default. Matching is
# case-insensitive on both sides, so classes named by these short names match the long ones too.
EMOTION_ALIASES = {
    "neu": "neutral",
    "hap": "happy",
    "happiness": "happy",
    "sad": "sad",
    "sadness": "sad",
    "ang": "angry",
    "anger": "angry",
}


def canonical(name: str) -> str:
    """Lower-cases an emotion name and resolves it through EMOTION_ALIASES."""
    lowered = name.strip().lower()
    return EMOTION_ALIASES.get(lowered, lowered)


def class_lookup(class_names) -> dict:
    """Maps each canonical class name to its index; ValueError for an empty or repeated list."""
    if not class_names:
        raise ValueError("class_names is empty; give emotion names such as neutral,happy,sad,angry")
    lookup = {}
    for index, name in enumerate(class_names):
        key = canonical(name)
        if key in lookup:
            raise ValueError(f"class names {class_names[lookup[key]]!r} and {name!r} "
                             f"name the same emotion")
        lookup[key] = index
    return lookup


def parse_emotion_map(entries) -> dict:
    """{corpus label, lower-cased: class name, lower-cased} of `label=class` entries.

    Raises:
      ValueError: naming --csv_emotion_map and the entry, for an entry that is not label=class
        or a label given twice.
    """
    mapping = {}
    for entry in entries:
        label, equals, name = (part.strip().lower() for part in entry.partition("="))
        flag = f"--csv_emotion_map={entry.strip()}"
        if not equals or not label or not name:
            raise ValueError(f"{flag}: not label=class (e.g. excited=happy)")
        if label in mapping:
            raise ValueError(f"{flag}: label {label!r} is mapped twice")
        mapping[label] = name
    return mapping


def label_lookup(class_names, emotion_map=None):
    """label -> class index or None: `emotion_map` ({corpus label: class name}) first, then
    the class names and their aliases.

    Raises:
      ValueError: the class names are empty or repeated, or the map names a class that is not
        one of them (naming --csv_emotion_map and --classes).
    """
    lookup = class_lookup(class_names)
    mapped = {}
    for label, name in parse_emotion_map(f"{label}={name}"
                                         for label, name in (emotion_map or {}).items()).items():
        if canonical(name) not in lookup:
            raise ValueError(f"--csv_emotion_map={label}={name}: {name!r} is not one of "
                             f"--classes ({', '.join(class_names)}); map the label to one of "
                             f"them, or add the class to --classes")
        mapped[label] = lookup[canonical(name)]

    def index_of(label: str):
        key = label.strip().lower()
        return mapped[key] if key in mapped else lookup.get(canonical(key))
    return index_of
