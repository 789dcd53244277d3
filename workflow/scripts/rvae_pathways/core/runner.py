"""What every rule script does around its work: logging, and clear errors for bad input."""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Callable

from .errors import InputError


def setup_logging(log_path: str | None) -> logging.Logger:
    """Log INFO and above to ``log_path`` (if given) and to stderr; return the package logger."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True
    )
    logging.captureWarnings(True)
    # Our Zarr v3 stores carry consolidated metadata on purpose (fast xr.open_zarr); zarr warns
    # that it is not yet part of the v3 spec on every write.
    warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
    return logging.getLogger("rvae_pathways")


def run(snakemake, main: Callable[[object, logging.Logger], None]) -> None:
    """Run ``main(snakemake, logger)`` with logging to the rule's log file.

    An :class:`InputError` becomes one message naming the sample and the input file, written to
    the log and stderr, and the script exits with status 1 (Snakemake then removes the outputs,
    so nothing half-written stays behind). Other exceptions propagate with their traceback.
    """
    log_path = snakemake.log[0] if len(snakemake.log) else None
    logger = setup_logging(log_path)
    sample = getattr(snakemake.wildcards, "sample", None)
    source = snakemake.params.get("source") if hasattr(snakemake.params, "get") else None
    try:
        main(snakemake, logger)
    except InputError as err:
        where = f"sample '{sample}'" if sample else "input"
        if source:
            where += f" (file: {source})"
        logger.error("%s: %s", where, err)
        sys.exit(1)
