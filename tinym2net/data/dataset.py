"""The one data structure every data source returns and every trainer reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Split:
    x: dict[str, np.ndarray]  # modality name -> float32 array [N, *shape]
    y: np.ndarray  # int64 class indices [N]

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class Dataset:
    name: str
    modalities: dict[str, tuple[int, ...]]  # modality name -> per-sample shape (H, W, C) or (T, F, 1)
    class_names: list[str]
    train: Split
    val: Split
    test: Split
    seed: int

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
