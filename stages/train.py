"""Stage train: fit the chosen CNN on the training split, validating on a held-out stratified part of it.

With train.distribution: data_parallel it may run as several processes, one per machine or device
group (see the README); they train one model together and only the first writes the outputs.
"""

import os
from contextlib import nullcontext

from fashion_mnist import paths
from fashion_mnist.backend import (
    cache_compilations,
    cap_instruction_set,
    local_copy,
    make_deterministic,
    set_precision,
    start_distribution,
)
from fashion_mnist.batches import steps_per_epoch
from fashion_mnist.checkpoint import clear_checkpoint
from fashion_mnist.dataset import load_split, validation_split
from fashion_mnist.files import write_json, write_text
from fashion_mnist.history import summarize_history
from fashion_mnist.identity import library_versions, weights_digest
from fashion_mnist.model import build_model, model_summary
from fashion_mnist.params import load_params
from fashion_mnist.progress import epoch_logger
from fashion_mnist.saving import save_model
from fashion_mnist.stage import TrainingClock, check_backend, run_stage
from fashion_mnist.training import train_model, training_arguments

CHECKPOINT_DIR = paths.CHECKPOINTS_DIR / "train"


def main() -> None:
    """Train the model on the training split; keep the best validation epoch's weights, history and metrics."""
    params = load_params(["base", "model", "train"])
    seed, train = params["base"]["seed"], params["train"]
    check_backend(train["backend"])
    print(f"instruction set: {cap_instruction_set(train['cpu_isa'])}")
    make_deterministic(seed)
    cache_compilations(paths.COMPILATION_CACHE_DIR)
    process, processes, devices = start_distribution(train["distribution"], dict(os.environ), train["batch_size"])
    policy = set_precision(train["precision"])
    images, labels = load_split(paths.TRAIN_DATA)
    (x_train, y_train), (x_validation, y_validation) = validation_split(
        images, labels, fraction=train["validation_split"], seed=seed
    )
    print(f"training on {len(y_train)} images, validating on {len(y_validation)}, in {policy} on {train['backend']}")
    if processes > 1:
        print(f"process {process} of {processes}: each feeds 1/{processes} of every batch of {train['batch_size']}")
    if devices > 1:
        print(f"data_parallel over {devices} devices")
    model = build_model(**params["model"])
    summary = model_summary(model)
    print(summary)

    clock = TrainingClock()
    # Only the process that writes the outputs logs the epochs.
    with epoch_logger(paths.TRAIN_REPORTS) if process == 0 else nullcontext() as log_epoch:
        history = train_model(
            model,
            images=x_train,
            labels=y_train,
            validation_data=(x_validation, y_validation),
            epochs=train["epochs"],
            **training_arguments(train),
            monitor=train["monitor"],
            early_stopping_patience=train["early_stopping_patience"],
            seed=seed,
            # Processes start together from epoch 1: a checkpoint only some of them could see would split them.
            checkpoint_dir=CHECKPOINT_DIR if processes == 1 else None,
            part=(process, processes),
            devices=devices,
            on_epoch=clock.watch(log_epoch),
        )
    timing = clock.timing()
    seconds = timing["train_seconds"]
    if processes > 1:
        model = local_copy(model, lambda: build_model(**params["model"]))
        # Every process holds the same model; equal digests show it.
        print(f"process {process} of {processes}: weights sha256 {weights_digest(model)}")
    if process != 0:
        return

    metrics = {**summarize_history(history, train["monitor"]), "parameters": model.count_params()}
    save_model(model, paths.MODEL)
    write_text(paths.MODEL_SUMMARY, summary)
    write_json(
        paths.TRAIN_ENVIRONMENT,
        {
            "precision": policy,
            "cpu_isa": train["cpu_isa"],
            "distribution": train["distribution"],
            "processes": processes,
            "devices": devices,
            **library_versions(),
        },
    )
    # After DVCLive's last summary of the latest epoch: the metrics are those of the best one.
    write_json(paths.TRAIN_METRICS, metrics)
    # What final-train repeats, step for step: the steps up to the best epoch, on this run's schedule.
    write_json(
        paths.BEST_EPOCH,
        {
            "best_epoch": metrics["best_epoch"],
            "steps_per_epoch": steps_per_epoch(len(y_train), batch_size=train["batch_size"], devices=devices),
            "schedule_epochs": train["epochs"],
        },
    )
    write_json(paths.TRAIN_TIMING, timing)
    clear_checkpoint(CHECKPOINT_DIR)
    print(
        f"kept epoch {metrics['best_epoch']} of {metrics['epochs']} by {train['monitor']}: "
        f"val_accuracy {metrics['val_accuracy']:.4f}, val_loss {metrics['val_loss']:.4f}; {seconds:.0f} s"
    )


if __name__ == "__main__":
    run_stage(main)
