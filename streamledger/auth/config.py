"""The operator's stream map: which package(s) carry a stream, as the streaming server names it.

```yaml
streams:                      # exact stream names (Flussonic `name`) -> a package id, or a list of them
  news-24: 1
  sport-hd: [3, 7]            # entitled through either package
  ppv/title-fight: 101        # a pay-per-view event's package (the chain says it is PPV, and its window)
prefixes:                     # the longest matching prefix, for names not listed above (VOD locations, DVR)
  vod/the_long_night/: 201
```

Package ids are the catalogue's: plan packages, and the packages of PPV events and VOD titles (docs/catalogue.md).
Whether a package is a plan package, a PPV event or a VOD title comes from the chain, never from this file.
A stream that is neither listed nor matched by a prefix is refused (`unknown_stream`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


class StreamMapError(ValueError):
    """The stream map file is malformed; the message names the entry."""


def _packages(where: str, value) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 2**256:
            raise StreamMapError(f"{where}: package ids are positive integers, got {v!r}")
        out.append(v)
    if not out:
        raise StreamMapError(f"{where}: no package")
    return tuple(dict.fromkeys(out))


@dataclass
class StreamMap:
    streams: dict[str, tuple[int, ...]] = field(default_factory=dict)
    prefixes: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)  # longest first

    @classmethod
    def from_dict(cls, data: dict) -> StreamMap:
        if not isinstance(data, dict):
            raise StreamMapError("the stream map is a mapping with `streams` (and optionally `prefixes`)")
        unknown = set(data) - {"streams", "prefixes"}
        if unknown:
            raise StreamMapError(f"unknown section(s): {', '.join(sorted(unknown))}")
        streams = {str(k): _packages(f"streams.{k}", v) for k, v in (data.get("streams") or {}).items()}
        prefixes = [(str(k), _packages(f"prefixes.{k}", v)) for k, v in (data.get("prefixes") or {}).items()]
        if any(not p for p, _ in prefixes):
            raise StreamMapError("prefixes: an empty prefix would match every stream")
        prefixes.sort(key=lambda item: len(item[0]), reverse=True)
        return cls(streams, prefixes)

    @classmethod
    def load(cls, path: str | Path) -> StreamMap:
        try:
            data = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as exc:
            raise StreamMapError(f"{path}: {exc}") from None
        return cls.from_dict(data or {})

    def packages_of(self, name: str) -> tuple[int, ...] | None:
        found = self.streams.get(name)
        if found is not None:
            return found
        for prefix, packages in self.prefixes:
            if name.startswith(prefix):
                return packages
        return None
