"""The Hydra entry point: `python -m getdata …` and the `getdata` console script."""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from .app import run
from .config import config_dir, register_configs, to_app_config

register_configs()


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def main(cfg: DictConfig) -> None:
    app_cfg = to_app_config(cfg)
    run_config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    run(app_cfg, Path(HydraConfig.get().runtime.output_dir), run_config)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
