"""The Hydra entry point: `python -m getdata …` and the `getdata` console script."""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from .app import run
from .config import AppConfig, config_dir, register_configs

register_configs()


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def main(cfg: DictConfig) -> None:
    app_cfg: AppConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    run_config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    run(app_cfg, Path(HydraConfig.get().runtime.output_dir), run_config)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
